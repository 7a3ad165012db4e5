//! Loading the stack file the global flags name, for every subcommand.

use std::process::ExitCode;

use hoist_config::{EnvInputs, Mapping, Stack};

use crate::cli::{EnvFileArgs, Global};
use crate::exit;

/// The stack file from `-f`, or `hoist.toml` here or in the nearest parent,
/// with `--profile` applied. Failures are reported here, and the exit code
/// returned: 2 when the command line names something unusable (no stack
/// file, an unknown profile), 1 when the file is invalid.
pub(crate) fn load(global: &Global) -> Result<Stack, ExitCode> {
    read(global).map_err(|error| fail(error, "failed to load the stack file"))
}

/// The stack file from `-f`, or `hoist.toml` here or in the nearest
/// parent, loaded with `--profile` applied.
pub(crate) fn read(global: &Global) -> Result<Stack, hoist_config::Error> {
    let path = match &global.file {
        Some(path) => Ok(path.clone()),
        None => std::env::current_dir()
            .map_err(|error| hoist_config::Error::Read {
                path: ".".into(),
                error,
            })
            .and_then(|cwd| hoist_config::find_stack_file(&cwd)),
    };
    path.and_then(|path| Stack::load(&path, global.profile.as_deref()))
}

/// Every service's variables, from the stack's `.env` files, `--env-file`
/// and the process environment.
pub(crate) fn mapping(stack: &Stack, args: &EnvFileArgs) -> Result<Mapping, ExitCode> {
    let inputs = EnvInputs::from_process(args.env_files.clone());
    hoist_config::resolve(stack, &inputs)
        .map_err(|error| fail(error, "failed to map the configuration"))
}

/// Reports `error` with the exit code its kind calls for.
pub(crate) fn fail(error: hoist_config::Error, context: &'static str) -> ExitCode {
    let code = match &error {
        hoist_config::Error::StackFileNotFound { .. } | hoist_config::Error::Read { .. } => {
            exit::USAGE
        }
        hoist_config::Error::Stack(stack)
            if matches!(**stack, hoist_config::StackError::UnknownProfile { .. }) =>
        {
            exit::USAGE
        }
        _ => exit::FAILURE,
    };
    exit::report(&anyhow::Error::new(error).context(context), code)
}
