//! Validators: accept a request or reject it with a message (a 400 BAD_REQUEST_BODY).
//!
//! ```ignore
//! use portico_sdk::Request;
//!
//! #[portico_sdk::validator]
//! fn validate(_request: &Request, body: &[u8]) -> Result<(), String> {
//!     if body.is_empty() { Err("a body is required".into()) } else { Ok(()) }
//! }
//! ```

/// A validator plugin. Export an implementation with
/// [`export_validator!`](crate::export_validator).
pub trait Validator {
    /// `Ok` lets the request on; `Err(message)` answers 400 with `message`.
    fn validate(request: &crate::Request, body: &[u8]) -> Result<(), String>;
}

/// Exports `$ty`, which implements [`Validator`], as this component's `validator` world.
#[macro_export]
macro_rules! export_validator {
    ($ty:ty) => {
        #[allow(unsafe_code)]
        const _: () = {
            struct __PorticoValidator;

            impl $crate::bindings::validator::Guest for __PorticoValidator {
                fn validate(
                    request: $crate::Request,
                    body: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    <$ty as $crate::Validator>::validate(&request, &body)
                }
            }

            $crate::bindings::validator::export_validator_world!(
                __PorticoValidator with_types_in $crate::bindings::validator
            );
        };
    };
}
