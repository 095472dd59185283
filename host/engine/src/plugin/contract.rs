//! The WIT contract as the host checks it: the bindings generated from `wit/`, the version a
//! component exports against the one the host speaks, and what it imports.

use wasmtime::component::Component;

use super::{LoadedPlugin, PluginError, Runtime, WIT_PACKAGE, WIT_VERSION};

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "plugin",
    });
}

pub(super) use bindings::exports::sqrtspace::pipeline::stage as wit;

/// The version of the `stage` interface a component exports, if it exports one.
pub(super) fn exported_version(component: &Component, runtime: &Runtime) -> Option<String> {
    let prefix = format!("{WIT_PACKAGE}/stage@");
    component
        .component_type()
        .exports(runtime.engine())
        .find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_string))
}

/// Whether a plugin built against `found` runs on this host: same major version, and for
/// 0.x the same minor version (semver's rule for what can change incompatibly).
pub(super) fn compatible(found: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(found), parse(WIT_VERSION)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

pub(super) fn check_version(loaded: &LoadedPlugin, runtime: &Runtime) -> Result<(), PluginError> {
    let path = loaded.path.display().to_string();
    match exported_version(&loaded.component, runtime) {
        None => Err(PluginError::Invalid {
            path,
            message: format!("does not export {WIT_PACKAGE}/stage: not a sqrtspace plugin"),
        }),
        Some(found) if !compatible(&found) => Err(PluginError::Version { path, found }),
        Some(_) => Ok(()),
    }
}

/// The import names of a component (a well-behaved plugin has none).
pub(super) fn imports(component: &Component, runtime: &Runtime) -> Vec<String> {
    component
        .component_type()
        .imports(runtime.engine())
        .map(|(name, _)| name.to_string())
        .collect()
}

/// What to add to a trap's message when the plugin imports something: the sandbox provides
/// none of it, so calling any of it traps, and the backtrace alone does not say why.
pub(super) fn import_hint(imports: &[String]) -> String {
    match imports {
        [] => String::new(),
        [one] => format!(" (it imports {one}, which the sandbox does not provide)"),
        [first, rest @ ..] => format!(
            " (it imports {first} and {} more, which the sandbox does not provide)",
            rest.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{compatible, import_hint};

    #[test]
    fn a_trap_in_a_plugin_with_imports_says_what_it_imports() {
        assert_eq!(import_hint(&[]), "");
        let one = ["wasi:cli/stdout@0.2.6".to_string()];
        assert_eq!(
            import_hint(&one),
            " (it imports wasi:cli/stdout@0.2.6, which the sandbox does not provide)"
        );
        let three = ["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(
            import_hint(&three),
            " (it imports a and 2 more, which the sandbox does not provide)"
        );
    }

    #[test]
    fn versions_follow_semver_for_zero_major() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
        assert!(!compatible("garbage"));
    }
}
