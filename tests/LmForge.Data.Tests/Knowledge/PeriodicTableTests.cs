using LmForge.Data.Knowledge;
using static LmForge.Data.Tests.Knowledge.KnowledgeFixtures;

namespace LmForge.Data.Tests.Knowledge;

public class PeriodicTableTests
{
    static readonly List<Fact> Facts = PeriodicTable.Read(KnowledgeFixtures.Elements);

    [Fact]
    public void Read_GivesSymbolAndAtomicNumber()
    {
        Assert.Equal("Fe", Single(Facts, "iron", Relations.SymbolOf).Object);
        Assert.Equal("26", Single(Facts, "iron", Relations.AtomicNumber).Object);
        Assert.Equal("Au", Single(Facts, "gold", Relations.SymbolOf).Object);
        Assert.Equal("118", Single(Facts, "oganesson", Relations.AtomicNumber).Object);
        Assert.Equal(14 * 2, Facts.Count);
    }

    [Fact]
    public void Read_KeepsBritishSpellingsAsAliases()
    {
        Assert.Equal(["aluminium"], Single(Facts, "aluminum", Relations.SymbolOf).Subject.Aliases);
        Assert.Equal(["sulphur"], Single(Facts, "sulfur", Relations.SymbolOf).Subject.Aliases);
    }

    [Fact]
    public void Read_InvalidJson_NamesTheFileAndLine()
    {
        using var temp = new TempDirectory();
        var lines = File.ReadAllLines(KnowledgeFixtures.Elements);
        lines[4] = lines[4].Replace("\"symbol\":", "\"symbol\"", StringComparison.Ordinal);
        string path = temp.File("data.json");
        File.WriteAllLines(path, lines);
        var error = Assert.Throws<InvalidDataException>(() => PeriodicTable.Read(path));
        Assert.StartsWith($"{path}:5: invalid JSON", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Read_WrongType_NamesTheFileTheElementAndTheField()
    {
        using var temp = new TempDirectory();
        string path = temp.File("data.json");
        File.WriteAllText(path, "[{\"atomicNumber\":1,\"symbol\":\"H\",\"name\":\"Hydrogen\"},{\"atomicNumber\":\"two\",\"symbol\":\"He\",\"name\":\"Helium\"}]");
        var error = Assert.Throws<InvalidDataException>(() => PeriodicTable.Read(path));
        Assert.Equal($"{path}: element 2: expected an integer \"atomicNumber\"", error.Message);
    }
}
