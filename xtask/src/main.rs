//! `cargo xtask`: hoist's automation. One module per subcommand.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)] // A command-line tool of its own.

mod bases;
mod bench_build;
mod bench_dev;
mod bench_engine;
mod bench_load;
mod bench_stack;
mod bench_up;
mod cmd;
mod demo;
mod fuzz;
mod k8s;
mod mirror;
mod test;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "hoist's automation")]
struct Xtask {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job on a bare Debian machine (as root): set up, start the
    /// test cluster, `hoist up` the reference app; `demo down` removes it.
    Demo(demo::Args),
    /// Run every test suite: the command the README and .ci/run give.
    Test(test::Args),
    /// Build the offline base root filesystems with mmdebstrap (and seed a
    /// Docker Hub mirror with the reference app's bases).
    Bases(bases::Args),
    /// Measure image builds against docker build (the BENCHMARKS.md table).
    BenchBuild(bench_build::Args),
    /// Benchmark image delivery: hoist load against docker load and skopeo copy.
    BenchLoad(bench_load::Args),
    /// Benchmark the Docker-engine run: hoist's engine::up against docker-compose.
    BenchEngine(bench_engine::Args),
    /// Benchmark `hoist up` against the manual Helm procedure on the test cluster.
    BenchUp(bench_up::Args),
    /// The reference app under 100 concurrent users on the test cluster (wrk).
    BenchStack(bench_stack::Args),
    /// Benchmark `hoist dev`: a saved backend file to the forwarded URL serving it.
    BenchDev(bench_dev::Args),
    /// The single-node test cluster (Kubernetes 1.20 from Debian's source package).
    K8s(k8s::Args),
}

fn main() -> anyhow::Result<()> {
    match Xtask::parse().command {
        Command::Demo(args) => demo::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Bases(args) => bases::run(&args),
        Command::BenchBuild(args) => bench_build::run(&args),
        Command::BenchLoad(args) => bench_load::run(&args),
        Command::BenchEngine(args) => bench_engine::run(&args),
        Command::BenchUp(args) => bench_up::run(&args),
        Command::BenchStack(args) => bench_stack::run(&args),
        Command::BenchDev(args) => bench_dev::run(&args),
        Command::K8s(args) => k8s::run(&args),
    }
}
