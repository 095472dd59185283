//! What every subcommand's arguments share, below all of them: the exit-status table, usage
//! errors found after parsing, and a clap parser for the engine's enums.

/// Every exit status, one per kind of failure, as a string literal (for `concat!`): the
/// help of `run` and the README print this table.
macro_rules! exit_codes {
    () => {
        "Exit status:
  0    success (also when the reader of stdout went away, as with `| head`)
  1    a stage failed while running, or another error
  2    the command line is wrong (unknown flag, bad value, options that do not go together)
  3    the pipeline is invalid (syntax, unknown stage or operator, a setting out of range,
       a device this machine or build lacks)
  4    the input cannot be read (missing, unknown or damaged format, another sample rate)
  5    the output cannot be written (directory, permissions, full disk, a format that does
       not take these rows)
  6    a plugin cannot be loaded or failed (not found, another contract version, trap,
       deadline, memory cap, malformed output)
  7    a checkpoint on disk cannot be used (damaged, of another run, not asked to resume)
  8    a run over many inputs finished, but some of them failed (the summary names them)
  9    a cluster cannot form (a process did not connect in time, or runs something else) or
       lost a process; the others stop too
  10   a plugin registry or the lock file refuses (unreachable, timed out, no such tag or
       repository, access denied, a digest that does not match, --offline and not cached,
       --locked and not in the lock or changed since)
  130  stopped by SIGINT (Ctrl-C); 143 stopped by SIGTERM. Nothing is left behind but
       checkpoints, which --resume goes on from"
    };
}
pub(crate) use exit_codes;

/// The status of a command-line usage error: clap's own, so that every usage error, found
/// by clap or by a subcommand's checks, exits alike.
pub(crate) const USAGE: u8 = 2;

/// A usage error found after parsing: options that do not go together, a value out of range.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Returns early with a [`Usage`] error.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::args::Usage(format!($($arg)*))))
    };
}
pub(crate) use usage;

/// A clap parser for one of the engine's enums ([`InputFormat`](sqrtspace::io::InputFormat)
/// and the like): its names are the enum's kebab-case names, its help each variant's doc.
pub(crate) fn choice<T>() -> impl clap::builder::TypedValueParser<Value = T>
where
    T: strum::IntoEnumIterator
        + strum::EnumMessage
        + std::str::FromStr<Err = strum::ParseError>
        + Into<&'static str>
        + Clone
        + Send
        + Sync
        + 'static,
{
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new(T::iter().map(|value| {
        // As clap's derive writes a doc comment: its first paragraph on one line, without the
        // closing period.
        let help = value.get_documentation().map(|doc| {
            let first = doc.trim().split("\n\n").next().unwrap_or_default();
            let line = first.split_whitespace().collect::<Vec<_>>().join(" ");
            line.strip_suffix('.').map_or(line.clone(), str::to_string)
        });
        let name: &'static str = value.into();
        match help {
            Some(help) => PossibleValue::new(name).help(help),
            None => PossibleValue::new(name),
        }
    }))
    .try_map(|name| name.parse::<T>())
}
