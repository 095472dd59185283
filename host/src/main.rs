//! The `sqrtspace` command line: a clap parser and one struct per subcommand in `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
