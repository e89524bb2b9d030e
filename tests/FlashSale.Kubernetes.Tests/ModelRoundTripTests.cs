using System.Text.Json;
using System.Text.Json.Nodes;
using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

public sealed class ModelRoundTripTests : FakeApiServerTest
{
    private const string Operator = "flashsale-operator";

    [Fact]
    public async Task AServiceWithANamedTargetPortRoundTrips()
    {
        var service = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "orders", NamespaceProperty = TestKit.Ns },
            Spec = new V1ServiceSpec
            {
                Selector = new Dictionary<string, string> { ["app"] = "orders" },
                Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = "http" }, new V1ServicePort { Name = "metrics", Port = 9090, TargetPort = 9090 }],
            },
        };

        var read = await client.ApplyAsync(service, Operator);

        Assert.Equal("http", read.Spec!.Ports![0].TargetPort!.Value.StringValue);
        Assert.Equal(9090, read.Spec.Ports[1].TargetPort!.Value.IntValue);
        var stored = fake.GetObject(V1Service.ApiResource, TestKit.Ns, "orders")!;
        Assert.Equal(JsonValueKind.String, stored["spec"]!["ports"]![0]!["targetPort"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, stored["spec"]!["ports"]![1]!["targetPort"]!.GetValueKind());
    }

    [Fact]
    public async Task AutoscalingDisruptionBudgetAndIngressRoundTrip()
    {
        var hpa = await client.ApplyAsync(
            new V2HorizontalPodAutoscaler
            {
                Metadata = new V1ObjectMeta { Name = "orders", NamespaceProperty = TestKit.Ns },
                Spec = new V2HorizontalPodAutoscalerSpec
                {
                    ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "orders" },
                    MinReplicas = 2,
                    MaxReplicas = 10,
                    Metrics = [new V2MetricSpec { Type = "Resource", Resource = new V2ResourceMetricSource { Name = "cpu", Target = new V2MetricTarget { Type = "Utilization", AverageUtilization = 70 } } }],
                },
            },
            Operator);
        Assert.Equal(70, hpa.Spec!.Metrics![0].Resource!.Target!.AverageUtilization);

        var pdb = await client.ApplyAsync(
            new V1PodDisruptionBudget
            {
                Metadata = new V1ObjectMeta { Name = "orders", NamespaceProperty = TestKit.Ns },
                Spec = new V1PodDisruptionBudgetSpec { MinAvailable = "50%", Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "orders" } } },
            },
            Operator);
        Assert.Equal("50%", pdb.Spec!.MinAvailable!.Value.StringValue);
        Assert.Null(pdb.Spec.MaxUnavailable);

        var ingress = await client.ApplyAsync(
            new V1Ingress
            {
                Metadata = new V1ObjectMeta { Name = "shop", NamespaceProperty = TestKit.Ns },
                Spec = new V1IngressSpec
                {
                    IngressClassName = "nginx",
                    Rules =
                    [
                        new V1IngressRule
                        {
                            Host = "shop.example",
                            Http = new V1HTTPIngressRuleValue
                            {
                                Paths = [new V1HTTPIngressPath { Path = "/api/sales", PathType = "Prefix", Backend = new V1IngressBackend { Service = new V1IngressServiceBackend { Name = "orders", Port = new V1ServiceBackendPort { Number = 80 } } } }],
                            },
                        },
                    ],
                },
            },
            Operator);
        Assert.Equal("orders", ingress.Spec!.Rules![0].Http!.Paths![0].Backend!.Service!.Name);
    }

    [Fact]
    public async Task LeaseAndEventTimesAreWrittenWithTheMicrosecondsTheServerRequires()
    {
        var now = new DateTimeOffset(2026, 11, 22, 10, 30, 15, TimeSpan.Zero).AddTicks(1234567);
        var lease = new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "flashsale-operator", NamespaceProperty = TestKit.Ns },
            Spec = new V1LeaseSpec { HolderIdentity = "pod-a", LeaseDurationSeconds = 15, AcquireTime = now, RenewTime = now },
        };
        var json = JsonSerializer.Serialize(lease, client.JsonOptions);
        Assert.Contains("\"renewTime\":\"2026-11-22T10:30:15.123456Z\"", json);

        var sale = await client.CreateAsync(TestKit.Sale("spring"));
        var created = await client.CreateAsync(KubernetesEvents.About(sale, KubernetesEvents.Normal, "StockPreloaded", "Reconcile", "Preloaded 100 units", Operator, "pod-a", now));

        Assert.StartsWith("spring.", created.Metadata.Name);
        Assert.Equal(now.AddTicks(-7), created.EventTime);
        Assert.Equal(sale.Metadata.Uid, created.Regarding!.Uid);
        Assert.Equal("TestSale", created.Regarding.Kind);
        Assert.Equal("2026-11-22T10:30:15.123456Z", fake.GetObject(Eventsv1Event.ApiResource, TestKit.Ns, created.Metadata.Name!)!["eventTime"]!.GetValue<string>());
        Assert.Equal("2026-11-22T10:30:15Z", JsonSerializer.SerializeToNode(new V1Condition { LastTransitionTime = now }, client.JsonOptions)!["lastTransitionTime"]!.GetValue<string>());
    }

    [Fact]
    public async Task FieldsTheModelsLackSurviveAReadModifyReplace()
    {
        fake.Seed(V1Deployment.ApiResource, JsonNode.Parse("""
            {
              "apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": { "name": "legacy", "namespace": "shop" },
              "spec": {
                "replicas": 1,
                "selector": { "matchLabels": { "app": "legacy" } },
                "template": { "metadata": { "labels": { "app": "legacy" } }, "spec": { "containers": [ { "name": "app", "image": "x", "workingDir": "/srv" } ], "hostname": "legacy" } },
                "futureField": { "enabled": true }
              }
            }
            """)!.AsObject());

        var read = await client.GetAsync<V1Deployment>(TestKit.Ns, "legacy");
        read!.Spec!.Replicas = 2;
        await client.ReplaceAsync(read);

        var stored = fake.GetObject(V1Deployment.ApiResource, TestKit.Ns, "legacy")!;
        Assert.True(stored["spec"]!["futureField"]!["enabled"]!.GetValue<bool>());
        Assert.Equal("/srv", stored["spec"]!["template"]!["spec"]!["containers"]![0]!["workingDir"]!.GetValue<string>());
        Assert.Equal("legacy", stored["spec"]!["template"]!["spec"]!["hostname"]!.GetValue<string>());
        Assert.Equal(2, stored["spec"]!["replicas"]!.GetValue<int>());
    }

    [Fact]
    public void ConditionsChangeTheirTransitionTimeOnlyWhenTheirStatusChanges()
    {
        var t0 = DateTimeOffset.UtcNow;
        var conditions = new List<V1Condition>();
        Assert.True(conditions.SetCondition(new V1Condition { Type = "Ready", Status = "False", Reason = "Provisioning" }, t0));
        Assert.True(conditions.SetCondition(new V1Condition { Type = "Ready", Status = "False", Reason = "Waiting" }, t0.AddMinutes(1)));
        Assert.Equal(t0, conditions.Single().LastTransitionTime);
        Assert.False(conditions.SetCondition(new V1Condition { Type = "Ready", Status = "False", Reason = "Waiting" }, t0.AddMinutes(2)));
        Assert.True(conditions.SetCondition(new V1Condition { Type = "Ready", Status = "True", Reason = "Live" }, t0.AddMinutes(3)));
        Assert.Equal(t0.AddMinutes(3), conditions.Single().LastTransitionTime);
        Assert.True(conditions.IsTrue("Ready"));
    }
}
