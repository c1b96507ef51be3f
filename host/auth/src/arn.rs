//! TODO(skeleton): filled in by the arn work.
