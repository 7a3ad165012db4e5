//! Cross-crate end-to-end tests. Run with `cargo nextest run -p hoist-e2e`.

mod charts;
mod chatbot;
mod cluster;
mod k8s_smoke;
mod services;

#[test]
fn the_reference_app_is_in_the_repository() {
    assert!(
        hoist_e2e::repo_root()
            .join("examples/todo-chatbot")
            .is_dir()
    );
}
