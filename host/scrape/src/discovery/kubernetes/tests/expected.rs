//! What Prometheus 2.42's tests (`discovery/kubernetes/*_test.go`) expect for the objects
//! recorded in `testdata/`, transcribed label for label; each set names its test.

use super::expected_endpointslice::{
    ENDPOINTSLICE_BEFORE_RUN, ENDPOINTSLICE_POD, ENDPOINTSLICE_SERVICE_NODE, ENDPOINTSLICE_V1BETA1,
};
use super::expected_ingress::{
    INGRESS_NAMESPACES, INGRESS_NO_TLS, INGRESS_TLS, INGRESS_TLS_MIXED, INGRESS_TLS_WILDCARD,
};

/// A group as Prometheus' tests write it: source, group labels, each target's labels
/// (`__address__` among them).
pub(super) type Expected = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static [(&'static str, &'static str)]],
);

pub(super) const NODE_TEST: &[Expected] = &[(
    "node/test",
    &[
        ("__meta_kubernetes_node_name", "test"),
        (
            "__meta_kubernetes_node_provider_id",
            "aws:///nl-north-7b/i-03149834983492827",
        ),
        ("__meta_kubernetes_node_label_test_label", "testvalue"),
        ("__meta_kubernetes_node_labelpresent_test_label", "true"),
        (
            "__meta_kubernetes_node_annotation_test_annotation",
            "testannotationvalue",
        ),
        (
            "__meta_kubernetes_node_annotationpresent_test_annotation",
            "true",
        ),
    ],
    &[&[
        ("__address__", "1.2.3.4:10250"),
        ("instance", "test"),
        ("__meta_kubernetes_node_address_InternalIP", "1.2.3.4"),
    ]],
)];

pub(super) const SERVICE_LABELS: &[(&str, &str)] = &[
    ("__meta_kubernetes_service_name", "testservice"),
    ("__meta_kubernetes_namespace", "default"),
];

pub(super) const SERVICES_ADDED: &[Expected] = &[
    (
        "svc/default/testservice",
        SERVICE_LABELS,
        &[&[
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__address__", "testservice.default.svc:30900"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
            ("__meta_kubernetes_service_port_name", "testport"),
            ("__meta_kubernetes_service_port_number", "30900"),
        ]],
    ),
    (
        "svc/default/testservice-external",
        &[
            ("__meta_kubernetes_service_name", "testservice-external"),
            ("__meta_kubernetes_namespace", "default"),
        ],
        &[&[
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__address__", "testservice-external.default.svc:31900"),
            ("__meta_kubernetes_service_type", "ExternalName"),
            ("__meta_kubernetes_service_port_name", "testport"),
            ("__meta_kubernetes_service_port_number", "31900"),
            ("__meta_kubernetes_service_external_name", "FooExternalName"),
        ]],
    ),
    (
        "svc/default/testservice-loadbalancer",
        &[
            ("__meta_kubernetes_service_name", "testservice-loadbalancer"),
            ("__meta_kubernetes_namespace", "default"),
        ],
        &[&[
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__address__", "testservice-loadbalancer.default.svc:31900"),
            ("__meta_kubernetes_service_type", "LoadBalancer"),
            ("__meta_kubernetes_service_port_name", "testport"),
            ("__meta_kubernetes_service_port_number", "31900"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
            ("__meta_kubernetes_service_loadbalancer_ip", "127.0.0.1"),
        ]],
    ),
];

pub(super) const SERVICE_MULTIPORT: &[Expected] = &[(
    "svc/default/testservice",
    &[
        ("__meta_kubernetes_service_name", "testservice"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_label_test_label", "testvalue"),
        ("__meta_kubernetes_service_labelpresent_test_label", "true"),
        (
            "__meta_kubernetes_service_annotation_test_annotation",
            "testannotationvalue",
        ),
        (
            "__meta_kubernetes_service_annotationpresent_test_annotation",
            "true",
        ),
    ],
    &[
        &[
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__address__", "testservice.default.svc:30900"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
            ("__meta_kubernetes_service_port_name", "testport0"),
            ("__meta_kubernetes_service_port_number", "30900"),
        ],
        &[
            ("__meta_kubernetes_service_port_protocol", "UDP"),
            ("__address__", "testservice.default.svc:30901"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
            ("__meta_kubernetes_service_port_name", "testport1"),
            ("__meta_kubernetes_service_port_number", "30901"),
        ],
    ],
)];

pub(super) const POD_BEFORE_RUN: &[Expected] = &[
    (
        "pod/default/testpod",
        &[
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_pod_label_test_label", "testvalue"),
            ("__meta_kubernetes_pod_labelpresent_test_label", "true"),
            (
                "__meta_kubernetes_pod_annotation_test_annotation",
                "testannotationvalue",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_test_annotation",
                "true",
            ),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_uid", "abc123"),
            (
                "__meta_kubernetes_pod_controller_kind",
                "testcontrollerkind",
            ),
            (
                "__meta_kubernetes_pod_controller_name",
                "testcontrollername",
            ),
        ],
        &[
            &[
                ("__address__", "1.2.3.4:9000"),
                ("__meta_kubernetes_pod_container_name", "testcontainer0"),
                (
                    "__meta_kubernetes_pod_container_image",
                    "testcontainer0:latest",
                ),
                ("__meta_kubernetes_pod_container_port_name", "testport0"),
                ("__meta_kubernetes_pod_container_port_number", "9000"),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
                ("__meta_kubernetes_pod_container_init", "false"),
                (
                    "__meta_kubernetes_pod_container_id",
                    "docker://a1b2c3d4e5f6",
                ),
            ],
            &[
                ("__address__", "1.2.3.4:9001"),
                ("__meta_kubernetes_pod_container_name", "testcontainer0"),
                (
                    "__meta_kubernetes_pod_container_image",
                    "testcontainer0:latest",
                ),
                ("__meta_kubernetes_pod_container_port_name", "testport1"),
                ("__meta_kubernetes_pod_container_port_number", "9001"),
                ("__meta_kubernetes_pod_container_port_protocol", "UDP"),
                ("__meta_kubernetes_pod_container_init", "false"),
                (
                    "__meta_kubernetes_pod_container_id",
                    "docker://a1b2c3d4e5f6",
                ),
            ],
            &[
                ("__address__", "1.2.3.4"),
                ("__meta_kubernetes_pod_container_name", "testcontainer1"),
                (
                    "__meta_kubernetes_pod_container_image",
                    "testcontainer1:latest",
                ),
                ("__meta_kubernetes_pod_container_init", "false"),
                (
                    "__meta_kubernetes_pod_container_id",
                    "containerd://6f5e4d3c2b1a",
                ),
            ],
        ],
    ),
    // TestPodDiscoveryUpdateEmptyPodIP: a pod without an IP is an empty group.
    ("pod/default/starting", &[], &[]),
];

/// `expectedPodTargetGroups("default")`'s labels.
macro_rules! pod_labels {
    ($phase:expr, $ready:expr $(, $extra:expr)*) => {
        &[
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_ready", $ready),
            ("__meta_kubernetes_pod_phase", $phase),
            ("__meta_kubernetes_pod_uid", "abc123"),
            $($extra,)*
        ]
    };
}

pub(super) const POD_TARGET: &[(&str, &str)] = &[
    ("__address__", "1.2.3.4:9000"),
    ("__meta_kubernetes_pod_container_name", "testcontainer"),
    (
        "__meta_kubernetes_pod_container_image",
        "testcontainer:latest",
    ),
    ("__meta_kubernetes_pod_container_port_name", "testport"),
    ("__meta_kubernetes_pod_container_port_number", "9000"),
    ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ("__meta_kubernetes_pod_container_init", "false"),
    (
        "__meta_kubernetes_pod_container_id",
        "docker://a1b2c3d4e5f6",
    ),
];

pub(super) const POD_INIT: &[Expected] = &[(
    "pod/default/testpod",
    pod_labels!("Pending", "false"),
    &[
        POD_TARGET,
        &[
            ("__address__", "1.2.3.4"),
            ("__meta_kubernetes_pod_container_name", "initcontainer"),
            (
                "__meta_kubernetes_pod_container_image",
                "initcontainer:latest",
            ),
            ("__meta_kubernetes_pod_container_init", "true"),
            (
                "__meta_kubernetes_pod_container_id",
                "containerd://6f5e4d3c2b1a",
            ),
        ],
    ],
)];

pub(super) const POD_NODE_METADATA: &[Expected] = &[(
    "pod/default/testpod",
    pod_labels!(
        "Running",
        "true",
        ("__meta_kubernetes_node_name", "testnode"),
        ("__meta_kubernetes_node_label_l1", "v1"),
        ("__meta_kubernetes_node_labelpresent_l1", "true")
    ),
    &[POD_TARGET],
)];

pub(super) const ENDPOINTS_LABELS: &[(&str, &str)] = &[
    ("__meta_kubernetes_namespace", "default"),
    ("__meta_kubernetes_endpoints_name", "testendpoints"),
];

pub(super) const ENDPOINT_9001: [&[(&str, &str)]; 2] = [
    &[
        ("__address__", "2.3.4.5:9001"),
        ("__meta_kubernetes_endpoint_port_name", "testport"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "true"),
    ],
    &[
        ("__address__", "2.3.4.5:9001"),
        ("__meta_kubernetes_endpoint_port_name", "testport"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "false"),
    ],
];

pub(super) const ENDPOINTS_BEFORE_RUN: &[Expected] = &[(
    "endpoints/default/testendpoints",
    ENDPOINTS_LABELS,
    &[
        &[
            ("__address__", "1.2.3.4:9000"),
            ("__meta_kubernetes_endpoint_hostname", "testendpoint1"),
            ("__meta_kubernetes_endpoint_node_name", "foobar"),
            ("__meta_kubernetes_endpoint_port_name", "testport"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
        ],
        ENDPOINT_9001[0],
        ENDPOINT_9001[1],
    ],
)];

pub(super) const ENDPOINTS_POD: &[Expected] = &[(
    "endpoints/default/testendpoints",
    ENDPOINTS_LABELS,
    &[
        &[
            ("__address__", "4.3.2.1:9000"),
            ("__meta_kubernetes_endpoint_port_name", "testport"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            ("__meta_kubernetes_endpoint_address_target_name", "testpod"),
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_ready", "unknown"),
            ("__meta_kubernetes_pod_phase", ""),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_container_name", "c1"),
            ("__meta_kubernetes_pod_container_image", "c1:latest"),
            ("__meta_kubernetes_pod_container_port_name", "mainport"),
            ("__meta_kubernetes_pod_container_port_number", "9000"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_uid", "deadbeef"),
        ],
        &[
            ("__address__", "1.2.3.4:9001"),
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_ready", "unknown"),
            ("__meta_kubernetes_pod_phase", ""),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_container_name", "c2"),
            ("__meta_kubernetes_pod_container_image", "c2:latest"),
            ("__meta_kubernetes_pod_container_port_name", "sideport"),
            ("__meta_kubernetes_pod_container_port_number", "9001"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_uid", "deadbeef"),
        ],
    ],
)];

pub(super) const ENDPOINTS_SERVICE_NODE: &[Expected] = &[(
    "endpoints/default/testendpoints",
    &[
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_endpoints_name", "testendpoints"),
        ("__meta_kubernetes_service_label_app_name", "test"),
        ("__meta_kubernetes_service_labelpresent_app_name", "true"),
        ("__meta_kubernetes_service_name", "testendpoints"),
    ],
    &[
        &[
            ("__address__", "1.2.3.4:9000"),
            ("__meta_kubernetes_endpoint_hostname", "testendpoint1"),
            ("__meta_kubernetes_endpoint_node_name", "foobar"),
            ("__meta_kubernetes_endpoint_port_name", "testport"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_node_label_az", "us-east1"),
            ("__meta_kubernetes_node_labelpresent_az", "true"),
            ("__meta_kubernetes_node_name", "foobar"),
        ],
        ENDPOINT_9001[0],
        ENDPOINT_9001[1],
    ],
)];

/// Each case: the Prometheus test whose objects and expectations it carries, the SD entry
/// (its `api_server` the test server), the recorded answers, the groups expected.
pub(super) const CASES: &[(&str, &str, &str, &[Expected])] = &[
    (
        "TestNodeDiscoveryBeforeStart",
        "{role: node}",
        "node.json",
        NODE_TEST,
    ),
    (
        "TestServiceDiscoveryAdd",
        "{role: service}",
        "services.json",
        SERVICES_ADDED,
    ),
    (
        "TestServiceDiscoveryUpdate",
        "{role: service, namespaces: {names: [default]}}",
        "services-multiport.json",
        SERVICE_MULTIPORT,
    ),
    (
        "TestPodDiscoveryBeforeRun",
        "{role: pod}",
        "pods.json",
        POD_BEFORE_RUN,
    ),
    (
        "TestPodDiscoveryInitContainer",
        "{role: pod}",
        "pods-init.json",
        POD_INIT,
    ),
    (
        "TestPodDiscoveryWithNodeMetadata",
        "{role: pod, attach_metadata: {node: true}, namespaces: {names: [default, empty]}}",
        "pods-node-metadata.json",
        POD_NODE_METADATA,
    ),
    (
        "TestEndpointsDiscoveryBeforeRun",
        "{role: endpoints}",
        "endpoints.json",
        ENDPOINTS_BEFORE_RUN,
    ),
    (
        "TestEndpointsDiscoveryAdd",
        "{role: endpoints}",
        "endpoints-pod.json",
        ENDPOINTS_POD,
    ),
    (
        "TestEndpointsDiscoveryWithNodeMetadata",
        "{role: endpoints, attach_metadata: {node: true}}",
        "endpoints-service-node.json",
        ENDPOINTS_SERVICE_NODE,
    ),
    (
        "TestEndpointSliceDiscoveryBeforeRun",
        "{role: endpointslice, namespaces: {names: [default]}}",
        "endpointslice.json",
        ENDPOINTSLICE_BEFORE_RUN,
    ),
    (
        "TestEndpointSliceDiscoveryAdd",
        "{role: endpointslice}",
        "endpointslice-pod.json",
        ENDPOINTSLICE_POD,
    ),
    (
        "TestEndpointsSlicesDiscoveryWithNodeMetadata",
        "{role: endpointslice, attach_metadata: {node: true}}",
        "endpointslice-service-node.json",
        ENDPOINTSLICE_SERVICE_NODE,
    ),
    (
        "TestEndpointSliceDiscoveryBeforeRunV1beta1",
        "{role: endpointslice, namespaces: {names: [default]}}",
        "endpointslice-v1beta1.json",
        ENDPOINTSLICE_V1BETA1,
    ),
    (
        "TestIngressDiscoveryAdd",
        "{role: ingress, namespaces: {names: [default]}}",
        "ingress.json",
        INGRESS_NO_TLS,
    ),
    (
        "TestIngressDiscoveryAddV1beta1",
        "{role: ingress, namespaces: {names: [default]}}",
        "ingress-v1beta1.json",
        INGRESS_NO_TLS,
    ),
    (
        "TestIngressDiscoveryAddTLS",
        "{role: ingress, namespaces: {names: [default]}}",
        "ingress-tls.json",
        INGRESS_TLS,
    ),
    (
        "TestIngressDiscoveryAddMixed",
        "{role: ingress, namespaces: {names: [default]}}",
        "ingress-tls-mixed.json",
        INGRESS_TLS_MIXED,
    ),
    (
        "expectedTargetGroups(TLSWildcard)",
        "{role: ingress, namespaces: {names: [default]}}",
        "ingress-tls-wildcard.json",
        INGRESS_TLS_WILDCARD,
    ),
    (
        "TestIngressDiscoveryNamespaces",
        "{role: ingress, namespaces: {names: [ns1, ns2]}}",
        "ingress.json",
        INGRESS_NAMESPACES,
    ),
];
