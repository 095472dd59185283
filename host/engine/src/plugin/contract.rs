//! The WIT contract as the host checks it: the bindings generated from `wit/` (the contract
//! plugins are built against now) and from every frozen earlier version in `wit/<version>/`,
//! the version a component exports against the ones the host speaks, and what it imports.
//! `exports.rs` calls a plugin of either version.

use wasmtime::component::Component;

use super::{LoadedPlugin, PluginError, Runtime, WIT_PACKAGE, WIT_VERSION};

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "plugin",
    });
}

/// `sqrtspace:pipeline@0.1.0`, frozen: text crossed as `list<string>`.
pub(super) mod bindings_0_1 {
    wasmtime::component::bindgen!({
        path: "wit/0.1.0",
        world: "plugin",
    });
}

pub(super) use bindings::exports::sqrtspace::pipeline::stage as wit;
pub(super) use bindings_0_1::exports::sqrtspace::pipeline::stage as wit_0_1;

/// The contract versions this host speaks, newest first.
pub const SPOKEN: [&str; 2] = [WIT_VERSION, "0.1.0"];

/// Which contract a plugin was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Contract {
    /// The one in `wit/sqrtspace.wit`.
    Current,
    /// 0.1.0, frozen in `wit/0.1.0/`.
    V0_1,
}

impl Contract {
    /// The contract a plugin exporting `found` runs under: one of the same major version, and
    /// for 0.x the same minor version (semver's rule for what can change incompatibly).
    pub(super) fn of(found: &str) -> Option<Contract> {
        let parse = |v: &str| -> Option<(u64, u64)> {
            let mut parts = v.split('.');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        };
        let key = |v| match parse(v)? {
            (0, minor) => Some((0, minor)),
            (major, _) => Some((major, 0)),
        };
        let found = key(found)?;
        let spoken = |v| key(v) == Some(found);
        if spoken(SPOKEN[0]) {
            Some(Contract::Current)
        } else if spoken(SPOKEN[1]) {
            Some(Contract::V0_1)
        } else {
            None
        }
    }
}

/// The version of the `stage` interface a component exports, if it exports one.
pub(super) fn exported_version(component: &Component, runtime: &Runtime) -> Option<String> {
    let prefix = format!("{WIT_PACKAGE}/stage@");
    component
        .component_type()
        .exports(runtime.engine())
        .find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_string))
}

/// The contract `loaded` was built against, if the host speaks it.
pub(super) fn check_version(
    loaded: &LoadedPlugin,
    runtime: &Runtime,
) -> Result<Contract, PluginError> {
    let path = loaded.path.display().to_string();
    match exported_version(&loaded.component, runtime) {
        None => Err(PluginError::Invalid {
            path,
            message: format!("does not export {WIT_PACKAGE}/stage: not a sqrtspace plugin"),
        }),
        Some(found) => Contract::of(&found).ok_or(PluginError::Version { path, found }),
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
    use super::{Contract, SPOKEN, import_hint};

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
        assert_eq!(
            SPOKEN[0], "0.2.0",
            "a new contract: freeze the old one and speak it too"
        );
        assert_eq!(Contract::of("0.2.0"), Some(Contract::Current));
        assert_eq!(Contract::of("0.2.9"), Some(Contract::Current));
        assert_eq!(Contract::of("0.1.0"), Some(Contract::V0_1));
        assert_eq!(Contract::of("0.1.7"), Some(Contract::V0_1));
        for unknown in ["0.0.1", "0.3.0", "1.1.0", "1.0", "garbage", ""] {
            assert_eq!(Contract::of(unknown), None, "{unknown}");
        }
    }
}
