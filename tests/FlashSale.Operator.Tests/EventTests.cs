using FlashSale.Operator.Kubernetes;
using k8s;
using k8s.Models;

namespace FlashSale.Operator.Tests;

public class EventTests
{
    [Fact]
    public async Task TheOperatorRecordsEventsForWhatItCreatesAndWhereTheSaleStands()
    {
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example());

        await h.ReconcileAsync(fs.Name());

        var events = h.Server.List<Eventsv1Event>(h.Namespace);
        Assert.All(events, e => Assert.Equal(fs.Uid(), e.Regarding!.Uid));
        Assert.Contains(events, e => e.Reason == "Created" && e.Note == $"Created Deployment {fs.Name()}-orders");
        Assert.Contains(events, e => e.Reason == "StockPreloaded" && e.Note!.Contains("console-x=600"));
        Assert.Contains(events, e => e.Reason == "PhaseChanged" && e.Note == "Pending -> Provisioning");
    }

    [Fact]
    public async Task AnInvalidSaleIsReportedOnceAsAWarningEvent()
    {
        await using var h = await Harness.StartAsync();
        var invalid = h.Example();
        invalid.Spec!.Products[0].Stock = -1;
        var fs = await h.CreateAsync(invalid);

        await h.ReconcileAsync(fs.Name());
        await h.ReconcileAsync(fs.Name());

        var warning = Assert.Single(h.Server.List<Eventsv1Event>(h.Namespace), e => e.Type == "Warning");
        Assert.Equal("InvalidSpec", warning.Reason);
        Assert.Contains("spec.products[0].stock", warning.Note);
    }
}
