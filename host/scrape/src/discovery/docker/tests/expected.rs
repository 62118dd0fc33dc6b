//! The targets Prometheus expects of its recorded `dockerprom` engine, copied from
//! `discovery/moby/docker_test.go` (`TestDockerSDRefresh`) of prometheus/prometheus at tag
//! v2.42.0 (Apache License 2.0, as wasmfed), in the test's order.

/// Each target's labels, `__address__` among them.
pub(super) const DOCKERPROM: &[&[(&str, &str)]] = &[
    &[
        ("__address__", "172.19.0.2:9100"),
        (
            "__meta_docker_container_id",
            "c301b928faceb1a18fe379f6bc178727ef920bb30b0f9b8592b32b36255a0eca",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_project",
            "dockersd",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_service",
            "node",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_version",
            "1.25.0",
        ),
        (
            "__meta_docker_container_label_maintainer",
            "The Prometheus Authors <prometheus-developers@googlegroups.com>",
        ),
        ("__meta_docker_container_label_prometheus_job", "node"),
        ("__meta_docker_container_name", "/dockersd_node_1"),
        ("__meta_docker_container_network_mode", "dockersd_default"),
        (
            "__meta_docker_network_id",
            "7189986ab399e144e52a71b7451b4e04e2158c044b4cd2f3ae26fc3a285d3798",
        ),
        ("__meta_docker_network_ingress", "false"),
        ("__meta_docker_network_internal", "false"),
        ("__meta_docker_network_ip", "172.19.0.2"),
        (
            "__meta_docker_network_label_com_docker_compose_network",
            "default",
        ),
        (
            "__meta_docker_network_label_com_docker_compose_project",
            "dockersd",
        ),
        (
            "__meta_docker_network_label_com_docker_compose_version",
            "1.25.0",
        ),
        ("__meta_docker_network_name", "dockersd_default"),
        ("__meta_docker_network_scope", "local"),
        ("__meta_docker_port_private", "9100"),
    ],
    &[
        ("__address__", "172.19.0.3:80"),
        (
            "__meta_docker_container_id",
            "c301b928faceb1a18fe379f6bc178727ef920bb30b0f9b8592b32b36255a0eca",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_project",
            "dockersd",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_service",
            "noport",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_version",
            "1.25.0",
        ),
        (
            "__meta_docker_container_label_maintainer",
            "The Prometheus Authors <prometheus-developers@googlegroups.com>",
        ),
        ("__meta_docker_container_label_prometheus_job", "noport"),
        ("__meta_docker_container_name", "/dockersd_noport_1"),
        ("__meta_docker_container_network_mode", "dockersd_default"),
        (
            "__meta_docker_network_id",
            "7189986ab399e144e52a71b7451b4e04e2158c044b4cd2f3ae26fc3a285d3798",
        ),
        ("__meta_docker_network_ingress", "false"),
        ("__meta_docker_network_internal", "false"),
        ("__meta_docker_network_ip", "172.19.0.3"),
        (
            "__meta_docker_network_label_com_docker_compose_network",
            "default",
        ),
        (
            "__meta_docker_network_label_com_docker_compose_project",
            "dockersd",
        ),
        (
            "__meta_docker_network_label_com_docker_compose_version",
            "1.25.0",
        ),
        ("__meta_docker_network_name", "dockersd_default"),
        ("__meta_docker_network_scope", "local"),
    ],
    &[
        ("__address__", "localhost"),
        (
            "__meta_docker_container_id",
            "54ed6cc5c0988260436cb0e739b7b6c9cad6c439a93b4c4fdbe9753e1c94b189",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_project",
            "dockersd",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_service",
            "host_networking",
        ),
        (
            "__meta_docker_container_label_com_docker_compose_version",
            "1.25.0",
        ),
        (
            "__meta_docker_container_name",
            "/dockersd_host_networking_1",
        ),
        ("__meta_docker_container_network_mode", "host"),
        ("__meta_docker_network_ip", ""),
    ],
];
