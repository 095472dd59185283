//! `LogParse`: each line of a window of text becomes four f64 numbers — status, latency in
//! milliseconds, time in seconds since 1970, and whether it parsed and passed the filter (see
//! [`sqrtspace_kernels::logs::field`]). A line that does not match is marked
//! [`sqrtspace_kernels::logs::UNPARSED`] and counted downstream, never an error.
//!
//! The parser is the `logparse` plugin's (`sqrtspace_kernels::logs::Parser`), with the same
//! parameters, so this native stage and the Wasm plugin give the same bits: the built-in is
//! for the hot first stage of a log pipeline, the plugin for pipelines that want every
//! stage sandboxed.

use std::sync::Arc;

use sqrtspace_kernels::logs::{ParseParams, Parser, field};

use crate::stage::{
    BuildContext, BuildError, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{DType, Tensor};

/// Builds the operator for one input of text rows.
pub fn build(
    params: &ParseParams,
    ctx: &BuildContext<'_>,
) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_inputs(1)?;
    let input = ctx.input(0, DType::Text)?;
    // Compiled here to refuse a bad pattern when the pipeline is planned.
    Parser::new(params).map_err(BuildError::Param)?;
    let mut row_shape = input.layout.row_shape.clone();
    row_shape.push(field::COUNT);
    Ok(Arc::new(LogParseOp {
        params: params.clone(),
        output: Port::plain(DType::F64, row_shape),
    }))
}

#[derive(Debug)]
struct LogParseOp {
    params: ParseParams,
    output: Port,
}

impl Operator for LogParseOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        // A parser per instance: it keeps its regex's scratch space.
        Ok(Instance::Pure(Box::new(LogParse {
            parser: Parser::new(&self.params).map_err(StageError::Failed)?,
            row_shape: self.output.layout.row_shape.clone(),
        })))
    }
}

struct LogParse {
    parser: Parser,
    row_shape: Vec<usize>,
}

impl Pure for LogParse {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let input = call.input(0)?.text()?;
        let output = out.reset::<f64>(call.rows, &self.row_shape);
        let lines = input.iter().flat_map(|row| row.iter());
        for (line, dst) in lines.zip(output.chunks_exact_mut(field::COUNT)) {
            dst.copy_from_slice(&self.parser.parse(line));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::builtin::testing::call_with_ports;
    use crate::tensor::Layout;

    fn lines() -> Vec<String> {
        let ok = r#"10.0.0.1 - - [01/Jan/2026:00:00:01 +0000] "GET /api/x HTTP/1.1" 200 512 "-" "curl/8" 0.125"#;
        let err =
            r#"10.0.0.2 - - [01/Jan/2026:00:00:02 +0000] "POST /login HTTP/1.1" 503 0 "-" "-" 2.5"#;
        [ok, "garbage", err, "", ok]
            .iter()
            .map(|s| s.to_string())
            .chain(std::iter::once(ok.replace("0.125", "0.125x")))
            .collect()
    }

    #[test]
    fn every_line_gets_the_parsers_fields_bit_for_bit() {
        let text = lines();
        let input = Tensor::text(2, vec![3], text.iter().collect()).expect("valid tensor");
        let ports = [Port::plain(DType::Text, vec![3])];
        for params in [
            ParseParams::default(),
            ParseParams {
                path: Some("^/api/".into()),
                ..ParseParams::default()
            },
        ] {
            let out =
                call_with_ports(|ctx| build(&params, ctx), &[&input], &ports, 1.0).expect("runs");
            assert_eq!(out.row_shape(), &[3, field::COUNT]);
            let view = out.view();
            let got = view.typed::<f64>().expect("f64");
            let got: Vec<f64> = got.iter().flatten().copied().collect();
            let parser = Parser::new(&params).expect("parser");
            let expected: Vec<f64> = text.iter().flat_map(|l| parser.parse(l)).collect();
            assert_eq!(got.len(), expected.len());
            assert!(
                got.iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
        }
        // The lines above really exercise each outcome: kept, unparsed, a 503, filtered.
        let filtered = Parser::new(&ParseParams {
            path: Some("^/api/".into()),
            ..ParseParams::default()
        })
        .expect("parser");
        let flags: Vec<f64> = text
            .iter()
            .map(|l| filtered.parse(l)[field::FLAG])
            .collect();
        assert_eq!(flags, [1.0, -1.0, 0.0, -1.0, 1.0, -1.0]);
    }

    #[test]
    fn refuses_numbers_and_bad_patterns() {
        let ports = [Port::plain(DType::F32, vec![3])];
        let input = Tensor::empty(&Layout::new(DType::F32, vec![3]));
        let err = call_with_ports(
            |ctx| build(&ParseParams::default(), ctx),
            &[&input],
            &ports,
            1.0,
        )
        .expect_err("text only");
        assert!(err.contains("Text") || err.contains("text"), "{err}");
        let ports = [Port::plain(DType::Text, vec![3])];
        let input = Tensor::empty(&Layout::new(DType::Text, vec![3]));
        let params = ParseParams {
            pattern: Some("(?P<status>[0-9]+".into()),
            ..ParseParams::default()
        };
        let err = call_with_ports(|ctx| build(&params, ctx), &[&input], &ports, 1.0)
            .expect_err("bad regex");
        assert!(err.contains("regex") || err.contains("pattern"), "{err}");
    }
}
