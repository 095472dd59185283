//! Peak frequency, centroid, kurtosis and log energy of each magnitude spectrum: the Wasm component of [`sqrtspace_kernels::features`].
//!
//! The numeric code lives in `sqrtspace-kernels`, which the host's built-ins run natively; this
//! crate only adapts it to the plugin interface.

/// The Wasm component: rows of a magnitude spectrum in, four features per row out.
#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_kernels::features;
    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Error, NoParams};

    fn spectral_features(block: &Block, _: &NoParams) -> Result<Array2<f32>, Error> {
        let axis = block
            .frequency(0)
            .ok_or_else(|| Error::Input("input 0 is not a spectrum (no frequency axis)".into()))?;
        let input = block.f32(0)?;
        sqrtspace_sdk::map_rows(input, features::COLUMNS.len(), |_, values, out| {
            out.copy_from_slice(&features::features(values, axis.first_hz, axis.step_hz));
        })
    }

    sqrtspace_sdk::export_stage!(
        spectral_features,
        name = "features",
        version = env!("CARGO_PKG_VERSION"),
        description = "peak frequency, centroid, kurtosis and log energy of a magnitude spectrum"
    );
}
