//! Mappers: rewrite a request before the integration and its response after.
//!
//! ```ignore
//! use portico_sdk::{MappedRequest, MappedResponse, Mapper, Reply, Request};
//!
//! struct Tag;
//!
//! impl Mapper for Tag {
//!     fn map_request(request: &Request, body: Vec<u8>) -> Result<MappedRequest, Reply> {
//!         Ok(MappedRequest::from_request(request, body).with_header("x-tagged", "yes"))
//!     }
//! }
//!
//! portico_sdk::export_mapper!(Tag);
//! ```

use crate::bindings::mapper as world;
use crate::request::{self, Field, Reply};

pub use world::{MappedRequest, MappedResponse};

/// A mapper plugin. Export an implementation with [`export_mapper!`](crate::export_mapper).
pub trait Mapper {
    /// Rewrites the request's headers, query and body; `Err` answers the client directly and the
    /// integration is not called.
    fn map_request(request: &crate::Request, body: Vec<u8>) -> Result<MappedRequest, Reply>;

    /// Rewrites the integration's response. The default passes it through unchanged.
    fn map_response(request: &crate::Request, response: MappedResponse) -> MappedResponse {
        let _ = request;
        response
    }
}

impl MappedRequest {
    /// The request as the client sent it: its headers and query, and `body`.
    pub fn from_request(request: &crate::Request, body: Vec<u8>) -> Self {
        Self {
            headers: request.headers.clone(),
            query: request.query.clone(),
            body,
        }
    }

    /// The first value of header `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        request::find_header(&self.headers, name)
    }

    /// Adds header `name: value` (after any existing ones of that name).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces every `name` header (any case) with one `name: value`.
    pub fn set_header(&mut self, name: &str, value: &str) {
        request::set_header(&mut self.headers, name, value);
    }

    /// Removes every `name` header (any case).
    pub fn remove_header(&mut self, name: &str) {
        request::remove_header(&mut self.headers, name);
    }

    /// Adds query-string parameter `name=value` (decoded).
    pub fn with_query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

impl MappedResponse {
    /// A response with `status`, `headers` and `body`.
    pub fn new(status: u16, headers: Vec<Field>, body: Vec<u8>) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    /// The first value of header `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        request::find_header(&self.headers, name)
    }

    /// Adds header `name: value` (after any existing ones of that name).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces every `name` header (any case) with one `name: value`.
    pub fn set_header(&mut self, name: &str, value: &str) {
        request::set_header(&mut self.headers, name, value);
    }

    /// Removes every `name` header (any case).
    pub fn remove_header(&mut self, name: &str) {
        request::remove_header(&mut self.headers, name);
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// Exports `$ty`, which implements [`Mapper`], as this component's `mapper` world.
#[macro_export]
macro_rules! export_mapper {
    ($ty:ty) => {
        #[allow(unsafe_code)]
        const _: () = {
            struct __PorticoMapper;

            impl $crate::bindings::mapper::Guest for __PorticoMapper {
                fn map_request(
                    request: $crate::Request,
                    body: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<$crate::MappedRequest, $crate::Reply> {
                    <$ty as $crate::Mapper>::map_request(&request, body)
                }

                fn map_response(
                    request: $crate::Request,
                    response: $crate::MappedResponse,
                ) -> $crate::MappedResponse {
                    <$ty as $crate::Mapper>::map_response(&request, response)
                }
            }

            $crate::bindings::mapper::export_mapper_world!(
                __PorticoMapper with_types_in $crate::bindings::mapper
            );
        };
    };
}
