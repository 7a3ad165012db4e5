//! Image names as Docker and containerd spell them in full.

/// The fully qualified form of an image name, by Docker's normalisation,
/// which containerd applies to a docker-archive's `RepoTags`: `app:1` is
/// `docker.io/library/app:1`, `todo/api` is `docker.io/todo/api:latest`, and a
/// name whose first part is a host (`hoist.local/...`, `localhost:5000/...`)
/// stays as written.
#[must_use]
pub fn normalized_name(name: &str) -> String {
    let (first, _) = name.split_once('/').unwrap_or(("", name));
    let has_domain = first.contains('.') || first.contains(':') || first == "localhost";
    let mut full = match (has_domain, name.contains('/')) {
        (true, _) => name.to_owned(),
        (false, true) => format!("docker.io/{name}"),
        (false, false) => format!("docker.io/library/{name}"),
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && !last.contains('@') {
        full.push_str(":latest");
    }
    full
}

#[cfg(test)]
mod tests {
    use super::normalized_name;

    #[test]
    fn names_are_normalised_as_docker_and_containerd_do() {
        assert_eq!(normalized_name("app:1"), "docker.io/library/app:1");
        assert_eq!(normalized_name("app"), "docker.io/library/app:latest");
        assert_eq!(normalized_name("todo/api:2"), "docker.io/todo/api:2");
        assert_eq!(
            normalized_name("hoist.local/todo/api:abc"),
            "hoist.local/todo/api:abc"
        );
        assert_eq!(
            normalized_name("localhost:5000/api"),
            "localhost:5000/api:latest"
        );
    }
}
