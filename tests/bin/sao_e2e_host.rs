//! The `sao` command, built inside the end-to-end test package so its tests can start,
//! kill and restart real pole processes (`CARGO_BIN_EXE_sao-e2e-host`).

fn main() -> std::process::ExitCode {
    sao_runtime::cli::main()
}
