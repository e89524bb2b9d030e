namespace FlashSale.LoadTest.Tests;

public class ReportTests
{
    [Fact]
    public void AReportWithALagThatNeverCaughtUpIsStillWritten()
    {
        var path = Path.Combine(Path.GetTempPath(), "flashsale-report-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            Report.WriteJson(path, new { p99 = double.PositiveInfinity, rate = double.NaN });
            var json = File.ReadAllText(path);
            Assert.Contains("\"Infinity\"", json);
            Assert.Contains("\"NaN\"", json);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
