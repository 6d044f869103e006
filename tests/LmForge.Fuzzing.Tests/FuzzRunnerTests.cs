using System.Text;
using LmForge.Fuzzing;

namespace LmForge.Fuzzing.Tests;

/// <summary>The classifier and the mutator, on targets whose behaviour is known.</summary>
public class FuzzRunnerTests
{
    static FuzzTarget Target(Action<string> read) => new("probe", "a test reader", [new("input.txt", "hello 123\nworld 456\n"u8.ToArray(), FuzzFileKind.Text)], read);

    static FuzzResult RunOnce(Action<string> read, TimeSpan? timeLimit = null)
    {
        var target = Target(read);
        using var runner = new FuzzRunner(target, timeLimit);
        return runner.Run(0, 0);
    }

    [Fact]
    public void A_documented_exception_naming_the_file_on_one_line_is_a_clean_rejection()
    {
        var result = RunOnce(directory => throw new InvalidDataException($"{Path.Combine(directory, "input.txt")}: line 2: bad"));
        Assert.Equal(FuzzOutcome.Rejected, result.Outcome);
    }

    [Theory]
    [InlineData("null reference")]
    [InlineData("index out of range")]
    [InlineData("argument out of range")]
    [InlineData("overflow")]
    [InlineData("several lines")]
    [InlineData("no file name")]
    [InlineData("too long")]
    public void Anything_else_thrown_is_a_failure(string kind)
    {
        var result = RunOnce(directory =>
        {
            string file = Path.Combine(directory, "input.txt");
            throw kind switch
            {
                "null reference" => new NullReferenceException(),
                "index out of range" => new IndexOutOfRangeException($"{file}: index"),
                "argument out of range" => new ArgumentOutOfRangeException("x", $"{file}: bad"),
                "overflow" => new OverflowException($"{file}: overflow"),
                "several lines" => new InvalidDataException($"{file}: first\nsecond"),
                "no file name" => new InvalidDataException("the header is bad"),
                _ => new FormatException($"{file}: {new string('x', FuzzRunner.MaxMessageChars + 1)}"),
            };
        });
        Assert.Equal(FuzzOutcome.Failed, result.Outcome);
    }

    [Fact]
    public void A_reader_past_the_time_limit_is_a_hang()
    {
        var result = RunOnce(_ => Thread.Sleep(2000), TimeSpan.FromMilliseconds(100));
        Assert.Equal(FuzzOutcome.Failed, result.Outcome);
        Assert.StartsWith("hang", result.Detail);
    }

    [Fact]
    public void A_reader_that_allocates_far_more_than_its_input_fails_on_memory()
    {
        var result = RunOnce(_ =>
        {
            var chunks = new List<byte[]>();
            for (int i = 0; i < 12; i++) chunks.Add(new byte[16 << 20]);
            GC.KeepAlive(chunks);
        });
        Assert.Equal(FuzzOutcome.Failed, result.Outcome);
        Assert.StartsWith("memory", result.Detail);
    }

    [Fact]
    public void A_reader_that_returns_accepts()
    {
        var result = RunOnce(directory => File.ReadAllBytes(Path.Combine(directory, "input.txt")));
        Assert.Equal(FuzzOutcome.Accepted, result.Outcome);
    }

    [Fact]
    public void A_case_is_the_same_bytes_on_every_run_and_cases_differ()
    {
        var target = FuzzTargets.Get("safetensors");
        var first = FuzzMutator.Mutate(target, 7, 42);
        var again = FuzzMutator.Mutate(target, 7, 42);
        Assert.Equal(first.Description, again.Description);
        Assert.Equal(first.Files["model.safetensors"], again.Files["model.safetensors"]);
        var distinct = Enumerable.Range(0, 50).Select(i => Convert.ToHexString(FuzzMutator.Mutate(target, 7, i).Files["model.safetensors"] ?? [])).Distinct().Count();
        Assert.True(distinct > 40, $"only {distinct} distinct inputs in 50 cases");
    }

    [Fact]
    public void Mutations_change_the_file_they_pick()
    {
        var target = FuzzTargets.Get("recipe");
        for (int i = 0; i < 100; i++)
        {
            var input = FuzzMutator.Mutate(target, 3, i);
            Assert.Equal(target.Files[1].Seed, input.Files["docs/a.jsonl"]);   // marked not mutable
            Assert.StartsWith("recipe.json: ", input.Description);
        }
        Assert.Contains(Enumerable.Range(0, 100), i => !Encoding.UTF8.GetString(FuzzMutator.Mutate(target, 3, i).Files["recipe.json"]!).Contains("\"stages\""));
    }
}
