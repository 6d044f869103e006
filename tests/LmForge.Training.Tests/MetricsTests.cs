using System.Xml.Linq;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests;

public class MetricsTests
{
    static MetricsRecord Record(int step, float loss, float? validation = null) => new(step, loss, validation, 1e-3f, 0.5f, 1000, 0.1, step);

    [Fact]
    public void Log_WritesOneJsonLinePerStep_AndContinueDropsStepsAfterTheCheckpoint()
    {
        string path = Path.Combine(TestFiles.TemporaryDirectory("metrics"), "metrics.jsonl");
        using (var log = MetricsLog.Create(path))
        {
            for (int step = 0; step < 6; step++) log.Append(Record(step, 5f - step, step == 5 ? 4.5f : null));
        }
        string[] lines = File.ReadAllLines(path);
        Assert.Equal(6, lines.Length);
        Assert.Equal("""{"step":5,"trainLoss":0,"validationLoss":4.5,"learningRate":0.001,"gradientNorm":0.5,"tokensPerSecond":1000,"mfu":0.1,"elapsedSeconds":5}""", lines[5]);
        Assert.DoesNotContain("validationLoss", lines[0], StringComparison.Ordinal);
        using (var resumed = MetricsLog.Continue(path, resumedStep: 4))
        {
            Assert.Equal(4, resumed.Records.Count);
            resumed.Append(Record(4, 1f));
        }
        Assert.Equal([0, 1, 2, 3, 4], MetricsLog.Read(path).Select(r => r.Step));
    }

    [Fact]
    public void Svg_IsWellFormed_WithATrainAndAValidationCurve()
    {
        var records = Enumerable.Range(0, 100).Select(s => Record(s, 6f / (1 + s * 0.05f), s % 20 == 19 ? 6.5f / (1 + s * 0.05f) : null)).ToList();
        var svg = XDocument.Parse(LossCurveSvg.Render(records, "run <1>"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        var polylines = svg.Descendants(ns + "polyline").ToList();
        Assert.Equal(3, polylines.Count); // raw train, smoothed train, validation
        Assert.Equal(100, polylines[0].Attribute("points")!.Value.Split(' ').Length);
        Assert.Equal(5, polylines[2].Attribute("points")!.Value.Split(' ').Length);
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "run <1>");
        Assert.NotNull(XDocument.Parse(LossCurveSvg.Render([], "empty")).Root);
    }

    [Fact]
    public void Continue_DropsAHalfWrittenLastLine_ButNotABadLineElsewhere()
    {
        string path = Path.Combine(TestFiles.TemporaryDirectory("metrics-killed"), "metrics.jsonl");
        using (var log = MetricsLog.Create(path))
        {
            for (int step = 0; step < 3; step++) log.Append(Record(step, 5f - step));
        }
        string complete = File.ReadAllText(path);
        File.AppendAllText(path, "{\"step\":3,\"trainLo"); // killed mid-write
        Assert.StartsWith($"{path}:4: not a metrics record", Assert.Throws<InvalidDataException>(() => MetricsLog.Read(path)).Message, StringComparison.Ordinal);
        using (var resumed = MetricsLog.Continue(path, resumedStep: 3))
        {
            Assert.Equal([0, 1, 2], resumed.Records.Select(r => r.Step));
        }
        Assert.Equal(complete, File.ReadAllText(path));

        File.WriteAllText(path, "{\"step\":0,\"trainLo\n" + complete);
        var error = Assert.Throws<InvalidDataException>(() => MetricsLog.Continue(path, resumedStep: 3));
        Assert.StartsWith($"{path}:1: not a metrics record", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FailedLossCurveWrite_LeavesNoTemporaryFile()
    {
        string directory = TestFiles.TemporaryDirectory("metrics-temporary");
        string blocked = Path.Combine(directory, "loss.svg");
        Directory.CreateDirectory(blocked); // the rename onto it fails
        Assert.ThrowsAny<IOException>(() => LossCurveSvg.Write(blocked, [Record(0, 1f)], "t"));
        Assert.Equal([blocked], Directory.GetFileSystemEntries(directory));
    }
}
