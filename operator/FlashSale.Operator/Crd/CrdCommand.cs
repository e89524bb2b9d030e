namespace FlashSale.Operator.Crd;

/// <summary><c>FlashSale.Operator crds [dir...]</c>: writes the generated CRD into each directory (crds/ and the chart's crds/ by default).</summary>
public static class CrdCommand
{
    public static int Run(IReadOnlyList<string> directories, TextWriter output)
    {
        var yaml = CrdGenerator.BuildYaml();
        foreach (var directory in directories.Count > 0 ? directories : ["crds", "charts/flashsale-operator/crds"])
        {
            Directory.CreateDirectory(directory);
            var path = Path.Combine(directory, CrdGenerator.FileName);
            File.WriteAllText(path, yaml);
            output.WriteLine($"wrote {path}");
        }

        return 0;
    }
}
