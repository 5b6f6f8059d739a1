//! The `deployc` binary.

// mimalloc rather than the system's allocator: measured on `deployc check` of an SQL-heavy
// history, about 20 % less time (fewer instructions, and glibc's per-thread arenas grow by
// `mprotect` calls); see BENCHMARKS.md. The library leaves the choice to its users.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: deployc crashed: {info}");
        eprintln!(
            "this is a bug in deployc; please report it with the command you ran and the input files"
        );
        std::process::exit(101);
    }));
    std::process::exit(deployc::cli::run());
}
