using System.Globalization;
using System.Text;
using LmForge.Tokenization.Saving;

namespace LmForge.Training.Metrics;

/// <summary>
/// Draws the training loss (per step, and its moving average) and the validation loss against the step as a
/// self-contained SVG, for a browser or a README, with a second panel for the evaluation tasks' scores when the run
/// has them. No plotting library: a few axes, ticks and polylines.
/// </summary>
public static class LossCurveSvg
{
    const int Width = 720, Height = 420, Left = 60, Right = 20, Top = 36, Bottom = 44, TaskPanelHeight = 260;

    static readonly string[] TaskColours = ["#08519c", "#d94801", "#238b45", "#6a51a3", "#cb181d", "#525252"];

    /// <summary>Writes the picture under a temporary name and renames it into place.</summary>
    public static void Write(string path, IReadOnlyList<MetricsRecord> records, string title)
    {
        AtomicFile.WriteText(path, Render(records, title));
    }

    public static string Render(IReadOnlyList<MetricsRecord> records, string title)
    {
        var svg = new StringBuilder();
        var tasks = records.Where(r => r.TaskScores is { Count: > 0 }).ToList();
        int totalHeight = Height + (tasks.Count > 0 ? TaskPanelHeight : 0);
        svg.Append(CultureInfo.InvariantCulture,
            $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{totalHeight}\" viewBox=\"0 0 {Width} {totalHeight}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{Escape(title)}</text>\n");
        var train = records.Where(r => r.TrainLoss is { } t && float.IsFinite(t)).Select(r => (r.Step, Loss: (double)r.TrainLoss!.Value)).ToList();
        var validation = records.Where(r => r.ValidationLoss is { } v && float.IsFinite(v)).Select(r => (r.Step, Loss: (double)r.ValidationLoss!.Value)).ToList();
        if (train.Count == 0 && validation.Count == 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"{Height / 2}\" text-anchor=\"middle\">no steps yet</text>\n</svg>\n");
            return svg.ToString();
        }
        var all = train.Concat(validation).ToList();
        double minStep = all.Min(p => p.Step), maxStep = Math.Max(all.Max(p => p.Step), minStep + 1);
        double minLoss = all.Min(p => p.Loss), maxLoss = all.Max(p => p.Loss);
        if (maxLoss - minLoss < 1e-6) { minLoss -= 0.5; maxLoss += 0.5; }
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        double X(double step) => Left + (step - minStep) / (maxStep - minStep) * plotWidth;
        double Y(double loss) => Top + (maxLoss - loss) / (maxLoss - minLoss) * plotHeight;

        // Axes with five ticks each.
        svg.Append(CultureInfo.InvariantCulture,
            $"<path d=\"M{Left},{Top} V{Top + plotHeight} H{Left + plotWidth}\" stroke=\"black\" fill=\"none\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double step = minStep + (maxStep - minStep) * i / 4, loss = minLoss + (maxLoss - minLoss) * i / 4;
            svg.Append(CultureInfo.InvariantCulture,
                $"<text x=\"{X(step):F1}\" y=\"{Top + plotHeight + 16}\" text-anchor=\"middle\">{step:0}</text>\n");
            svg.Append(CultureInfo.InvariantCulture,
                $"<text x=\"{Left - 6}\" y=\"{Y(loss) + 4:F1}\" text-anchor=\"end\">{loss:0.00}</text>\n");
            svg.Append(CultureInfo.InvariantCulture,
                $"<path d=\"M{Left},{Y(loss):F1} H{Left + plotWidth}\" stroke=\"#ddd\"/>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + plotWidth / 2}\" y=\"{Height - 8}\" text-anchor=\"middle\">step</text>\n");
        svg.Append(CultureInfo.InvariantCulture,
            $"<text x=\"14\" y=\"{Top + plotHeight / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {Top + plotHeight / 2})\">loss (nats/token)</text>\n");

        if (train.Count > 0)
        {
            svg.Append(Polyline(train.Select(p => (X(p.Step), Y(p.Loss))), "#9ecae1", 1));
            svg.Append(Polyline(MovingAverage(train, Math.Max(1, train.Count / 50)).Select(p => (X(p.Step), Y(p.Loss))), "#08519c", 2));
        }
        if (validation.Count > 0)
        {
            svg.Append(Polyline(validation.Select(p => (X(p.Step), Y(p.Loss))), "#d94801", 2));
            foreach (var (step, loss) in validation)
                svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{X(step):F1}\" cy=\"{Y(loss):F1}\" r=\"3\" fill=\"#d94801\"/>\n");
        }
        // Legend.
        int legendX = Left + (int)plotWidth - 150;
        svg.Append(CultureInfo.InvariantCulture, $"<path d=\"M{legendX},{Top + 10} h20\" stroke=\"#08519c\" stroke-width=\"2\"/><text x=\"{legendX + 26}\" y=\"{Top + 14}\">train (moving avg)</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<path d=\"M{legendX},{Top + 28} h20\" stroke=\"#d94801\" stroke-width=\"2\"/><text x=\"{legendX + 26}\" y=\"{Top + 32}\">validation</text>\n");
        if (tasks.Count > 0) AppendTaskPanel(svg, tasks, X);
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    // Below the loss panel, on the same step axis: each task's acc_norm (0 to 1) and CORE, one line each.
    static void AppendTaskPanel(StringBuilder svg, List<MetricsRecord> records, Func<double, double> x)
    {
        int top = Height + 10, plotHeight = TaskPanelHeight - 10 - Bottom;
        double plotWidth = Width - Left - Right;
        double Y(double score) => top + (1 - Math.Clamp(score, 0, 1)) * plotHeight;
        svg.Append(CultureInfo.InvariantCulture, $"<path d=\"M{Left},{top} V{top + plotHeight} H{Left + plotWidth}\" stroke=\"black\" fill=\"none\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double score = i / 4.0;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Y(score) + 4:F1}\" text-anchor=\"end\">{score:0.00}</text>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<path d=\"M{Left},{Y(score):F1} H{Left + plotWidth}\" stroke=\"#ddd\"/>\n");
        }
        svg.Append(CultureInfo.InvariantCulture,
            $"<text x=\"14\" y=\"{top + plotHeight / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {top + plotHeight / 2})\">task acc_norm (core: centred)</text>\n");
        var names = records.SelectMany(r => r.TaskScores!.Keys).Distinct(StringComparer.Ordinal).ToList();
        for (int n = 0; n < names.Count; n++)
        {
            string colour = TaskColours[n % TaskColours.Length];
            var points = records.Where(r => r.TaskScores!.ContainsKey(names[n])).Select(r => (x(r.Step), Y(r.TaskScores![names[n]]))).ToList();
            svg.Append(Polyline(points, colour, 2));
            foreach (var (px, py) in points) svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{px:F1}\" cy=\"{py:F1}\" r=\"2.5\" fill=\"{colour}\"/>\n");
            int legendY = top + 12 + (16 * n);
            svg.Append(CultureInfo.InvariantCulture,
                $"<path d=\"M{Left + 10},{legendY - 4} h20\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{Left + 36}\" y=\"{legendY}\">{Escape(names[n])}</text>\n");
        }
    }

    static List<(int Step, double Loss)> MovingAverage(List<(int Step, double Loss)> points, int window)
    {
        var averaged = new List<(int, double)>(points.Count);
        double sum = 0;
        for (int i = 0; i < points.Count; i++)
        {
            sum += points[i].Loss;
            if (i >= window) sum -= points[i - window].Loss;
            averaged.Add((points[i].Step, sum / Math.Min(i + 1, window)));
        }
        return averaged;
    }

    static string Polyline(IEnumerable<(double X, double Y)> points, string colour, int width) =>
        $"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" points=\"" +
        string.Join(' ', points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.X:F1},{p.Y:F1}"))) + "\"/>\n";

    static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
