fn main() -> std::process::ExitCode {
    webctp::cli::main()
}
