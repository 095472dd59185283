//! The Wasm OCI artifact layout (CNCF TAG Runtime, "Wasm OCI Artifact"), as `wkg oci push`,
//! Spin and wasmCloud write it: an OCI image manifest whose config has the media type
//! `application/vnd.wasm.config.v0+json` and whose one layer is the component,
//! `application/wasm`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The config's media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The component layer's media type.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The manifest's media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Annotation: the sqrtspace contract (`sqrtspace:pipeline`) version the component exports.
pub const CONTRACT_ANNOTATION: &str = "dev.sqrtspace.contract";
/// Annotation: whether the plugin is a kernel (carries state).
pub const STATEFUL_ANNOTATION: &str = "dev.sqrtspace.stateful";

/// The artifact's config (`application/vnd.wasm.config.v0+json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmConfig {
    /// When the artifact was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Always `wasm`.
    pub architecture: String,
    /// `wasip2` for a component (`wasip1` for a core module).
    pub os: String,
    /// The digests of the manifest's layers, in order.
    #[serde(default)]
    pub layer_digests: Vec<String>,
    /// What the component imports and exports, and the world it targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentInfo>,
}

/// The component's interface, as the config records it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentInfo {
    /// Interfaces it exports (`sqrtspace:pipeline/stage@0.2.0`).
    #[serde(default)]
    pub exports: Vec<String>,
    /// Interfaces it imports (none, for a sqrtspace plugin).
    #[serde(default)]
    pub imports: Vec<String>,
    /// The world it was built for (`sqrtspace:pipeline/plugin@0.2.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The first bytes of every Wasm binary.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// What a Wasm binary's header says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// A component (layer 1).
    Component,
    /// A core module (layer 0): not a sqrtspace plugin.
    CoreModule,
    /// Not Wasm at all.
    NotWasm,
}

/// Reads the 8-byte header: magic, then version and layer (`0d 00 01 00` for components).
pub fn binary_kind(bytes: &[u8]) -> Binary {
    match bytes {
        [m0, m1, m2, m3, _, _, 1, 0, ..] if [*m0, *m1, *m2, *m3] == *WASM_MAGIC => {
            Binary::Component
        }
        [m0, m1, m2, m3, _, _, 0, 0, ..] if [*m0, *m1, *m2, *m3] == *WASM_MAGIC => {
            Binary::CoreModule
        }
        _ => Binary::NotWasm,
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sqrtspace::plugin::content_hash(bytes))
}

/// The config and manifest annotations for a plugin `inspect` described.
pub fn describe(
    info: &sqrtspace::plugin::PluginInfo,
    layer_digest: &str,
    created: String,
) -> (WasmConfig, BTreeMap<String, String>) {
    let package = sqrtspace::plugin::WIT_PACKAGE;
    let version = &info.wit_version;
    let config = WasmConfig {
        created: Some(created.clone()),
        author: None,
        architecture: "wasm".into(),
        os: "wasip2".into(),
        layer_digests: vec![layer_digest.to_string()],
        component: Some(ComponentInfo {
            exports: vec![format!("{package}/stage@{version}")],
            imports: info.imports.clone(),
            target: Some(format!("{package}/plugin@{version}")),
        }),
    };
    let mut annotations = BTreeMap::from([
        ("org.opencontainers.image.created".to_string(), created),
        (CONTRACT_ANNOTATION.to_string(), version.clone()),
        (STATEFUL_ANNOTATION.to_string(), info.stateful.to_string()),
    ]);
    for (key, value) in [
        ("org.opencontainers.image.title", &info.name),
        ("org.opencontainers.image.version", &info.version),
        ("org.opencontainers.image.description", &info.description),
    ] {
        if !value.is_empty() {
            annotations.insert(key.to_string(), value.clone());
        }
    }
    (config, annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_components_from_modules_and_from_other_bytes() {
        assert_eq!(binary_kind(b"\0asm\x0d\0\x01\0rest"), Binary::Component);
        assert_eq!(binary_kind(b"\0asm\x01\0\0\0"), Binary::CoreModule);
        assert_eq!(binary_kind(b"\0asm"), Binary::NotWasm);
        assert_eq!(binary_kind(b"{\"not\": \"wasm\"}"), Binary::NotWasm);
    }

    #[test]
    fn the_config_reads_back_as_wkg_writes_it() {
        // The fields and their spelling in the CNCF layout, as wkg (oci-wasm) writes them.
        let written = r#"{"created":"2026-01-01T00:00:00Z","author":null,"architecture":"wasm",
            "os":"wasip2","layerDigests":["sha256:ab"],
            "component":{"exports":["a:b/c@1.0.0"],"imports":[],"target":null}}"#;
        let config: WasmConfig = serde_json::from_str(written).expect("reads");
        assert_eq!(config.os, "wasip2");
        assert_eq!(config.layer_digests, ["sha256:ab"]);
        let component = config.component.expect("a component");
        assert_eq!(component.exports, ["a:b/c@1.0.0"]);
        assert_eq!(component.target, None);
    }
}
