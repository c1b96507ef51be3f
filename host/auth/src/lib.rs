//! Access control for Portico, as pure functions over parsed inputs: no wasmtime and no I/O,
//! so that every rule is unit-tested against AWS's documented behaviour and the conformance
//! vectors.
//!
//! | module     | owns                                                                    |
//! |------------|-------------------------------------------------------------------------|
//! | [`arn`]    | method ARNs and their `*` / `?` wildcard match                          |
//! | [`policy`] | IAM policy documents: parse, evaluate, and combine (§5.2 Tables A and B) |
//! | [`output`] | a Lambda authorizer's output (policy or simple response), validated      |
//! | [`sigv4`]  | Signature Version 4 verification (header and presigned query forms)     |
//! | [`jwt`]    | JWT validation against a JWKS, with the key cache's refetch rule        |

pub mod arn;
pub mod jwt;
pub mod output;
pub mod policy;
pub mod sigv4;
