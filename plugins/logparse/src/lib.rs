//! The parse stage of the logs pipeline: each window of lines becomes `window x 4` numbers
//! per row (see [`sqrtspace_kernels::logs::field`]); a line that does not match the pattern is marked
//! [`sqrtspace_kernels::logs::UNPARSED`] and counted downstream, never an error.

#[cfg(target_arch = "wasm32")]
mod component {
    use std::cell::OnceCell;

    use sqrtspace_kernels::logs::{ParseParams, Parser, field};
    use sqrtspace_sdk::ndarray::{Array3, ArrayD};
    use sqrtspace_sdk::{Block, Error};

    thread_local! {
        /// The compiled pattern, built at configuration (a stage's parameters never change
        /// after it).
        static PARSER: OnceCell<Parser> = const { OnceCell::new() };
    }

    fn parse(block: &Block, params: &ParseParams) -> Result<ArrayD<f64>, Error> {
        let lines = block.text(0)?;
        PARSER.with(|cell| {
            let parser = match cell.get() {
                Some(parser) => parser,
                None => {
                    let parser = Parser::new(params).map_err(Error::Params)?;
                    cell.get_or_init(|| parser)
                }
            };
            let rows = lines.nrows();
            let mut out = Array3::<f64>::zeros((rows, lines.ncols(), field::COUNT));
            for (row, mut dst) in lines.rows().zip(out.outer_iter_mut()) {
                for (line, mut fields) in row.iter().zip(dst.outer_iter_mut()) {
                    for (d, v) in fields.iter_mut().zip(parser.parse(line)) {
                        *d = v;
                    }
                }
            }
            Ok(out.into_dyn())
        })
    }

    sqrtspace_sdk::export_stage!(
        parse,
        name = "logparse",
        version = "0.1.0",
        description = "access-log lines -> status, latency ms, time s, kept/filtered/unparsed"
    );
}
