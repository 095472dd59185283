//! Returns its text input rows unchanged, through the SDK: `&str` elements read from the
//! block's one buffer and pushed into a [`sqrtspace_sdk::TextBuilder`], no allocation per
//! element. The tests hold its output to the host's own reading of the lines, and to
//! `echo-0.1.0`'s, which gets the same rows as one string per line.
#![cfg(target_arch = "wasm32")]

use sqrtspace_sdk::{Block, Error, NoParams, TextBuilder};

fn echo(block: &Block, _: &NoParams) -> Result<TextBuilder, Error> {
    let rows = block.text(0)?;
    let mut out = TextBuilder::new(rows.ncols());
    for row in rows.rows().skip(block.context_rows) {
        for element in row.iter() {
            out.push(element);
        }
    }
    Ok(out)
}

sqrtspace_sdk::export_stage!(echo, name = "echo", version = "0.1.0");
