//! Example mapper that enriches what passes through it:
//!
//! - `map-request` adds `x-enriched: true` and `x-request-id: <request id>`, and passes the
//!   query and body on unchanged;
//! - `map-response` adds `x-mapped: true`.

use portico_sdk::{MappedRequest, MappedResponse, Mapper, Reply, Request};

/// The mapper.
struct Enrich;

impl Mapper for Enrich {
    fn map_request(request: &Request, body: Vec<u8>) -> Result<MappedRequest, Reply> {
        Ok(MappedRequest::from_request(request, body)
            .with_header("x-enriched", "true")
            .with_header("x-request-id", &request.request_id))
    }

    fn map_response(_request: &Request, response: MappedResponse) -> MappedResponse {
        response.with_header("x-mapped", "true")
    }
}

portico_sdk::export_mapper!(Enrich);
