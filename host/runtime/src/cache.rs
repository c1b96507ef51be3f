//! Compiling components, with an on-disk cache of precompiled artifacts.
//!
//! Compiling takes 48–82 ms for a small Rust component and 5–13 s for a JS or Python one;
//! loading a precompiled artifact takes 0.2–20 ms. With a cache directory, an artifact is stored
//! as `<sha256 of the component>-<engine fingerprint>.cwasm`, where the fingerprint hashes
//! [`Engine::precompile_compatibility_hash`] (wasmtime version, target, compiler settings and
//! wasm features), so an artifact is only ever loaded into an engine that could have produced
//! it.
//!
//! Every compilation runs in a short-lived engine with the serving engine's settings (no pooling
//! allocator), so the compiler's contexts go when it is done instead of staying in the serving
//! engine for the life of the process.
//!
//! Each artifact ends with a sha256 of its own bytes, checked before loading: a truncated or
//! corrupted file (disk full, crash mid-write, bit rot) is deleted and the component compiled
//! again, never loaded. Files are written to a temporary name and renamed into place, so
//! concurrent gateways sharing a directory never see half a file. What the checksum cannot
//! stop is someone who can write to the directory on purpose: the directory must be writable
//! only by the gateway's user, exactly like the gateway binary itself.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Hex-encoded sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A fingerprint of everything that makes an artifact loadable by `engine`.
pub(crate) fn engine_fingerprint(engine: &Engine) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The artifact cache, if configured, and the compiler.
pub(crate) struct ArtifactCache {
    dir: Option<PathBuf>,
    fingerprint: String,
    /// The serving engine's settings without its pooling allocator. Each compilation runs in
    /// an engine of its own built from them, dropped when the artifact is out: Cranelift keeps
    /// its contexts (buffers sized for the largest function it compiled, one per compiling
    /// thread) in the engine that compiled, which for the serving engine means for good.
    /// `None` when such an engine would not make artifacts the serving engine loads.
    compiler: Option<wasmtime::Config>,
}

impl ArtifactCache {
    pub(crate) fn new(dir: Option<PathBuf>, engine: &Engine, compiler: wasmtime::Config) -> Self {
        let fingerprint = engine_fingerprint(engine);
        let compiler = Engine::new(&compiler)
            .ok()
            .filter(|c| engine_fingerprint(c) == fingerprint)
            .map(|_| compiler);
        if compiler.is_none() {
            tracing::debug!("compiling in the serving engine");
        }
        Self {
            dir,
            fingerprint,
            compiler,
        }
    }

    /// Compiles `bytes` (whose sha256 is `digest`), or loads the cached artifact.
    pub(crate) fn component(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> Result<Component, String> {
        let path = self
            .dir
            .as_ref()
            .map(|dir| dir.join(format!("{digest}-{}.cwasm", self.fingerprint)));
        if let Some(component) = path.as_deref().and_then(|p| load(engine, p)) {
            return Ok(component);
        }
        let artifact = self.compile(engine, bytes).map_err(|e| format!("{e:#}"))?;
        if let Some(path) = &path
            && let Err(e) = store(path, &artifact)
        {
            tracing::warn!(path = %path.display(), "cannot write the precompiled artifact: {e}");
        }
        deserialize(engine, &artifact).map_err(|e| format!("{e:#}"))
    }

    /// Whether compilations run in an engine of their own.
    #[cfg(test)]
    pub(crate) fn compiles_apart(&self) -> bool {
        self.compiler.is_some()
    }

    /// Compiles `bytes` into an artifact `engine` loads, in a short-lived compiling engine when
    /// there is one.
    fn compile(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
        match &self.compiler {
            Some(config) => Engine::new(config)?.precompile_component(bytes),
            None => engine.precompile_component(bytes),
        }
    }
}

/// Loads a cached artifact; `None` (after deleting the file if it is damaged) means compile.
fn load(engine: &Engine, path: &Path) -> Option<Component> {
    let file = match std::fs::read(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot read the precompiled artifact: {e}");
            return None;
        }
    };
    let Some(split) = file.len().checked_sub(32) else {
        return discard(path, "shorter than its checksum");
    };
    let (artifact, sum) = file.split_at(split);
    if Sha256::digest(artifact).as_slice() != sum {
        return discard(path, "checksum mismatch");
    }
    match deserialize(engine, artifact) {
        Ok(component) => Some(component),
        Err(e) => discard(path, &format!("{e:#}")),
    }
}

fn discard(path: &Path, why: &str) -> Option<Component> {
    tracing::warn!(path = %path.display(), "discarding a damaged precompiled artifact ({why}); compiling again");
    let _ = std::fs::remove_file(path);
    None
}

fn store(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(artifact)?;
    f.write_all(&Sha256::digest(artifact))?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Turns precompiled bytes back into a component.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` runs the machine code in `artifact` without checking
    // it, so the bytes must come from `Engine::precompile_component` on a compatible engine and
    // be unmodified. They do: either `precompile_component` just produced them in this process,
    // or they were read from the cache directory (writable only by the gateway's user, see the
    // module docs), carry the sha256 we wrote after them (so they are the bytes we stored), and
    // sit under a file name that includes this engine's compatibility fingerprint. wasmtime
    // additionally checks the artifact's header, version and engine settings and returns an
    // error on any mismatch.
    unsafe { Component::deserialize(engine, artifact) }
}
