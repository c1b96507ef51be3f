//! Fixture: a mapper whose `map-request` allocates without bound, writing to every page so the
//! memory is really committed. The host's memory limit must stop it (the allocation fails, which
//! aborts: a trap) and answer 500 without harming the gateway.

use portico_sdk::{MappedRequest, MappedResponse, Mapper, Reply, Request};

/// Bytes per allocation: 1 MiB.
const CHUNK: usize = 1 << 20;

/// The mapper.
struct AllocBomb;

impl Mapper for AllocBomb {
    fn map_request(_request: &Request, _body: Vec<u8>) -> Result<MappedRequest, Reply> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; CHUNK];
            // Touch one byte per 4 KiB page, so every page is written, not just reserved.
            for page in chunk.chunks_mut(4096) {
                page[0] = hoard.len() as u8 | 1;
            }
            hoard.push(std::hint::black_box(chunk));
        }
    }

    fn map_response(_request: &Request, response: MappedResponse) -> MappedResponse {
        response
    }
}

portico_sdk::export_mapper!(AllocBomb);
