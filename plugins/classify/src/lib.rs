//! A small dense classifier whose weights come from the pipeline: the Wasm component of [`sqrtspace_kernels::mlp`].
//!
//! The numeric code lives in `sqrtspace-kernels`, which the host's built-ins run natively; this
//! crate only adapts it to the plugin interface.

/// The Wasm component: f32 rows of one or more inputs in, class scores out.
#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_kernels::mlp;
    use std::cell::RefCell;

    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Error};

    thread_local! {
        /// The network built from the parameters, once per instance.
        static NET: RefCell<Option<(mlp::Network, mlp::Work)>> = const { RefCell::new(None) };
    }

    fn classify(block: &Block, params: &mlp::Params) -> Result<Array2<f32>, Error> {
        let inputs = (0..block.inputs())
            .map(|i| block.f32(i))
            .collect::<Result<Vec<_>, _>>()?;
        let width = inputs.iter().map(|v| v.ncols()).sum();
        NET.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|(net, _)| net.width() != width) {
                let net = mlp::Network::new(params, width).map_err(Error::Params)?;
                let work = net.work();
                *slot = Some((net, work));
            }
            let Some((net, work)) = slot.as_mut() else {
                return Err(Error::Failed("network missing".into()));
            };
            let rows = inputs.first().map_or(0, |v| v.nrows());
            let mut out = Array2::zeros((rows, net.outputs()));
            for (r, mut dst) in out.rows_mut().into_iter().enumerate() {
                let x = net.input(work);
                let mut at = 0;
                for input in &inputs {
                    for &v in input.row(r) {
                        x[at] = v;
                        at += 1;
                    }
                }
                let dst = dst
                    .as_slice_mut()
                    .ok_or_else(|| Error::Failed("output not contiguous".into()))?;
                net.run(work, dst);
            }
            Ok(out)
        })
    }

    sqrtspace_sdk::export_stage!(
        classify,
        name = "classify",
        version = env!("CARGO_PKG_VERSION"),
        description = "dense layers over the joined rows of its inputs"
    );
}
