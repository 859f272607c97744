//! The `sao` command.

fn main() -> std::process::ExitCode {
    sao_runtime::cli::main()
}
