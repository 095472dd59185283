//! The alert stage of the logs pipeline: for each window, one text element per rule (see
//! [`sqrtspace_kernels::logs::Rule`]), a JSON event when the rule fires and empty otherwise; written as JSON
//! lines, that is one line per alert.

#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_kernels::logs::{self, AlertParams, Span, alerts, roll, stat};
    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Error};

    fn fire(block: &Block, params: &AlertParams) -> Result<Array2<String>, Error> {
        let (rolled, stats) = (block.f64(0)?, block.f64(1)?);
        if rolled.ncols() != roll::COUNT || stats.ncols() != stat::COUNT {
            return Err(Error::Input(format!(
                "logalerts reads logrolling's rows ({}) and logstats' ({}), in that order",
                roll::COUNT,
                stat::COUNT
            )));
        }
        let config = block.config();
        let mut out = Array2::from_elem((block.rows, logs::Rule::ALL.len()), String::new());
        for (i, mut dst) in out.rows_mut().into_iter().enumerate() {
            let at = Span {
                window: block.t0 + i as u64,
                lines: config.window as u64,
                hop: config.hop as u64,
            };
            let r = rolled.row(i);
            let s = stats.row(i);
            let events = alerts(
                at,
                &std::array::from_fn(|c| r[c]),
                &std::array::from_fn(|c| s[c]),
                params,
            );
            for (d, event) in dst.iter_mut().zip(events) {
                *d = event;
            }
        }
        Ok(out)
    }

    sqrtspace_sdk::export_stage!(
        fire,
        name = "logalerts",
        version = "0.1.0",
        description = "error-ratio, latency-p95, rate and unparsed alerts as JSON events"
    );
}
