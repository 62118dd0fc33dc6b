//! What Prometheus 2.42's `discovery/kubernetes/endpointslice_test.go` expects for the
//! endpoint slices recorded in `testdata/endpointslice*.json`, transcribed label for label;
//! each set names its test.

use super::expected::Expected;

const TESTPORT: &[(&str, &str)] = &[
    ("__meta_kubernetes_endpointslice_port", "9000"),
    ("__meta_kubernetes_endpointslice_port_name", "testport"),
    ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
];

/// `makeEndpointSliceV1`'s three endpoints, with `node` labels on the first when its node
/// is attached (`TestEndpointsSlicesDiscoveryWithNodeMetadata`).
macro_rules! slice_v1_targets {
    ($($node:expr),*) => {
        &[
            &[
                ("__address__", "1.2.3.4:9000"),
                ("__meta_kubernetes_endpointslice_address_target_kind", ""),
                ("__meta_kubernetes_endpointslice_address_target_name", ""),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_ready", "true"),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_serving", "true"),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_terminating", "false"),
                ("__meta_kubernetes_endpointslice_endpoint_hostname", "testendpoint1"),
                ("__meta_kubernetes_endpointslice_endpoint_topology_present_topology", "true"),
                ("__meta_kubernetes_endpointslice_endpoint_topology_topology", "value"),
                ("__meta_kubernetes_endpointslice_port", "9000"),
                ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
                ("__meta_kubernetes_endpointslice_port_name", "testport"),
                ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
                $($node,)*
            ],
            &[
                ("__address__", "2.3.4.5:9000"),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_ready", "true"),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_serving", "true"),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_terminating", "false"),
                ("__meta_kubernetes_endpointslice_port", "9000"),
                ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
                ("__meta_kubernetes_endpointslice_port_name", "testport"),
                ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
            ],
            &[
                ("__address__", "3.4.5.6:9000"),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_ready", "false"),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_serving", "true"),
                ("__meta_kubernetes_endpointslice_endpoint_conditions_terminating", "true"),
                ("__meta_kubernetes_endpointslice_port", "9000"),
                ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
                ("__meta_kubernetes_endpointslice_port_name", "testport"),
                ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
            ],
        ]
    };
}

/// `TestEndpointSliceDiscoveryBeforeRun`.
pub(super) const ENDPOINTSLICE_BEFORE_RUN: &[Expected] = &[(
    "endpointslice/default/testendpoints",
    &[
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_endpointslice_name", "testendpoints"),
    ],
    slice_v1_targets!(),
)];

/// `TestEndpointSliceDiscoveryAdd`.
pub(super) const ENDPOINTSLICE_POD: &[Expected] = &[(
    "endpointslice/default/testendpoints",
    &[
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        ("__meta_kubernetes_endpointslice_name", "testendpoints"),
        ("__meta_kubernetes_namespace", "default"),
    ],
    &[
        &[
            ("__address__", "4.3.2.1:9000"),
            ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
            (
                "__meta_kubernetes_endpointslice_address_target_name",
                "testpod",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                "false",
            ),
            TESTPORT[0],
            TESTPORT[1],
            TESTPORT[2],
            ("__meta_kubernetes_pod_container_name", "c1"),
            ("__meta_kubernetes_pod_container_image", "c1:latest"),
            ("__meta_kubernetes_pod_container_port_name", "mainport"),
            ("__meta_kubernetes_pod_container_port_number", "9000"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_phase", ""),
            ("__meta_kubernetes_pod_ready", "unknown"),
            ("__meta_kubernetes_pod_uid", "deadbeef"),
        ],
        &[
            ("__address__", "1.2.3.4:9001"),
            ("__meta_kubernetes_pod_container_name", "c2"),
            ("__meta_kubernetes_pod_container_image", "c2:latest"),
            ("__meta_kubernetes_pod_container_port_name", "sideport"),
            ("__meta_kubernetes_pod_container_port_number", "9001"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_phase", ""),
            ("__meta_kubernetes_pod_ready", "unknown"),
            ("__meta_kubernetes_pod_uid", "deadbeef"),
        ],
    ],
)];

/// `TestEndpointsSlicesDiscoveryWithNodeMetadata` (and, without the node labels,
/// `TestEndpointSliceDiscoveryWithService`).
pub(super) const ENDPOINTSLICE_SERVICE_NODE: &[Expected] = &[(
    "endpointslice/default/testendpoints",
    &[
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        ("__meta_kubernetes_endpointslice_name", "testendpoints"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_label_app_name", "test"),
        ("__meta_kubernetes_service_labelpresent_app_name", "true"),
        ("__meta_kubernetes_service_name", "testendpoints"),
    ],
    slice_v1_targets!(
        ("__meta_kubernetes_node_label_az", "us-east1"),
        ("__meta_kubernetes_node_labelpresent_az", "true"),
        ("__meta_kubernetes_node_name", "foobar")
    ),
)];

/// `TestEndpointSliceDiscoveryBeforeRunV1beta1`: `makeEndpointSliceV1beta1` on a 1.20 API
/// server, read through `discovery.k8s.io/v1beta1`.
pub(super) const ENDPOINTSLICE_V1BETA1: &[Expected] = &[(
    "endpointslice/default/testendpoints",
    &[
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_endpointslice_name", "testendpoints"),
    ],
    &[
        &[
            ("__address__", "1.2.3.4:9000"),
            (
                "__meta_kubernetes_endpointslice_endpoint_hostname",
                "testendpoint1",
            ),
            ("__meta_kubernetes_endpointslice_port", "9000"),
            ("__meta_kubernetes_endpointslice_port_name", "testport"),
            ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ],
        &[
            ("__address__", "2.3.4.5:9000"),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                "true",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
                "true",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
                "false",
            ),
            ("__meta_kubernetes_endpointslice_port", "9000"),
            ("__meta_kubernetes_endpointslice_port_name", "testport"),
            ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ],
        &[
            ("__address__", "3.4.5.6:9000"),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                "false",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
                "true",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
                "true",
            ),
            ("__meta_kubernetes_endpointslice_port", "9000"),
            ("__meta_kubernetes_endpointslice_port_name", "testport"),
            ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ],
    ],
)];
