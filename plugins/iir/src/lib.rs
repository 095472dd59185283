//! Biquad IIR cascade along time, a stateful kernel: the Wasm component of [`sqrtspace_kernels::iir`].
//!
//! The numeric code lives in `sqrtspace-kernels`, which the host's built-ins run natively; this
//! crate only adapts it to the plugin interface.

/// The Wasm component: a kernel over f32 rows of any width.
#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_kernels::iir;
    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Config, Error, Kernel};

    struct Iir;

    /// The kernel's state: the sections (derived from the parameters at `init`) travel with
    /// the delay values, so a step needs nothing but its inputs and its state.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct KernelState {
        sections: Vec<iir::Section>,
        delays: iir::State,
    }

    impl Kernel for Iir {
        type Params = iir::Params;
        type State = KernelState;
        type Output = Array2<f32>;

        fn init(params: &iir::Params, config: &Config) -> Result<KernelState, Error> {
            let [input] = config.inputs.as_slice() else {
                return Err(Error::Input(format!(
                    "takes 1 input, got {}",
                    config.inputs.len()
                )));
            };
            let sections = params
                .filter
                .sections(config.frame_rate())
                .map_err(Error::Params)?;
            iir::check_start(&sections, params.start).map_err(Error::Params)?;
            let delays = iir::State::new(input.row_len(), sections.len(), params.start);
            Ok(KernelState { sections, delays })
        }

        fn step(
            block: &Block,
            _: &iir::Params,
            state: &mut KernelState,
        ) -> Result<Array2<f32>, Error> {
            let input = block.f32(0)?;
            sqrtspace_sdk::map_rows(input, input.ncols(), |_, row, out| {
                iir::filter_row(&state.sections, &mut state.delays, row, out);
            })
        }
    }

    sqrtspace_sdk::export_kernel!(
        Iir,
        name = "iir",
        version = env!("CARGO_PKG_VERSION"),
        description = "biquad cascade along time, per element (a kernel)"
    );
}
