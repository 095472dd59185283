//! The export macros: a function or a [`Kernel`](crate::Kernel) type becomes the component's
//! `stage` interface.

/// Exports a stage function as this component's stage.
///
/// `export_stage!(function, name = "...", version = "...")`, optionally followed by
/// `description = "..."` and either `context = N` (earlier rows each output row reads) or
/// `context_from = f`, a `fn(&Params) -> u32` for a context the parameters decide.
#[macro_export]
macro_rules! export_stage {
    ($run:path, name = $name:expr, version = $version:expr $(, description = $desc:expr)? $(, context = $context:expr)? $(, context_from = $context_from:path)? $(,)?) => {
        fn __sqrtspace_make() -> ::std::boxed::Box<dyn $crate::__rt::Plugin> {
            ::std::boxed::Box::new($crate::__rt::FnStage {
                run: $run,
                name: $name,
                version: $version,
                description: $crate::__first!($($desc,)? ""),
                context: $crate::__first!($($context_from,)? $(|_| $context,)? |_| 0),
                params: None,
                config: None,
            })
        }
        $crate::__export_guest!(__sqrtspace_make);
    };
}

/// Exports a [`Kernel`](crate::Kernel) type as this component's stage.
///
/// `export_kernel!(Type, name = "...", version = "...")`, optionally followed by
/// `description = "..."`.
#[macro_export]
macro_rules! export_kernel {
    ($kernel:ty, name = $name:expr, version = $version:expr $(, description = $desc:expr)? $(,)?) => {
        fn __sqrtspace_make() -> ::std::boxed::Box<dyn $crate::__rt::Plugin> {
            ::std::boxed::Box::new($crate::__rt::KernelPlugin::<$kernel> {
                name: $name,
                version: $version,
                description: $crate::__first!($($desc,)? ""),
                params: None,
                config: None,
            })
        }
        $crate::__export_guest!(__sqrtspace_make);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __first {
    ($value:expr, $default:expr) => {
        $value
    };
    ($default:expr) => {
        $default
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_guest {
    ($make:ident) => {
        struct __SqrtspaceGuest;
        impl $crate::bindings::exports::sqrtspace::pipeline::stage::Guest for __SqrtspaceGuest {
            fn describe() -> $crate::bindings::exports::sqrtspace::pipeline::stage::StageInfo {
                $crate::__rt::describe($make)
            }
            fn configure(
                params: $crate::bindings::exports::sqrtspace::pipeline::stage::Params,
                inputs: ::std::vec::Vec<$crate::bindings::exports::sqrtspace::pipeline::stage::Layout>,
                signal: $crate::bindings::exports::sqrtspace::pipeline::stage::Signal,
            ) -> ::std::result::Result<
                $crate::bindings::exports::sqrtspace::pipeline::stage::Configured,
                $crate::bindings::exports::sqrtspace::pipeline::stage::Error,
            > {
                $crate::__rt::configure($make, params, inputs, signal)
            }
            fn process(
                block: $crate::bindings::exports::sqrtspace::pipeline::stage::Block,
                inputs: ::std::vec::Vec<$crate::bindings::exports::sqrtspace::pipeline::stage::Tensor>,
            ) -> ::std::result::Result<
                $crate::bindings::exports::sqrtspace::pipeline::stage::Tensor,
                $crate::bindings::exports::sqrtspace::pipeline::stage::Error,
            > {
                $crate::__rt::process($make, block, inputs)
            }
            fn init_state() -> ::std::result::Result<
                ::std::vec::Vec<u8>,
                $crate::bindings::exports::sqrtspace::pipeline::stage::Error,
            > {
                $crate::__rt::init_state($make)
            }
            fn step(
                block: $crate::bindings::exports::sqrtspace::pipeline::stage::Block,
                inputs: ::std::vec::Vec<$crate::bindings::exports::sqrtspace::pipeline::stage::Tensor>,
                state: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<
                (
                    $crate::bindings::exports::sqrtspace::pipeline::stage::Tensor,
                    ::std::vec::Vec<u8>,
                ),
                $crate::bindings::exports::sqrtspace::pipeline::stage::Error,
            > {
                $crate::__rt::step($make, block, inputs, state)
            }
        }
        $crate::bindings::__export_plugin!(__SqrtspaceGuest with_types_in $crate::bindings);
    };
}
