//! TODO(skeleton): filled in by the policy work.
