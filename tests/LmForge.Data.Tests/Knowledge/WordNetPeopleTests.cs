using LmForge.Data.Knowledge;
using static LmForge.Data.Tests.Knowledge.KnowledgeFixtures;

namespace LmForge.Data.Tests.Knowledge;

public class WordNetPeopleTests
{
    static readonly List<Fact> Facts = WordNetPeople.Read(KnowledgeFixtures.WordNetNouns);

    [Fact]
    public void Read_GivesBirthDeathAndWhatThePersonWas()
    {
        // "Mozart, Wolfgang_Amadeus_Mozart ... @i composer | prolific Austrian composer ... (1756-1791)"
        Assert.Equal("1756", Single(Facts, "Wolfgang Amadeus Mozart", Relations.BornIn).Object);
        Assert.Equal("1791", Single(Facts, "Wolfgang Amadeus Mozart", Relations.DiedIn).Object);
        Assert.Equal("composer", Single(Facts, "Wolfgang Amadeus Mozart", Relations.KnownAs).Object);
        Assert.Equal("1809", Single(Facts, "Charles Darwin", Relations.BornIn).Object);
        Assert.Equal("1882", Single(Facts, "Charles Darwin", Relations.DiedIn).Object);
        Assert.Equal("person/wolfgang-amadeus-mozart", Single(Facts, "Wolfgang Amadeus Mozart", Relations.BornIn).Subject.Id);
    }

    [Fact]
    public void Read_NamesPeopleByTheirUsualFullNameWithTheOtherLemmasAsAliases()
    {
        Assert.Equal(["Mozart"], Single(Facts, "Wolfgang Amadeus Mozart", Relations.BornIn).Subject.Aliases);
        Assert.Contains(Facts, f => f.Subject.Name == "Ludwig van Beethoven");
        Assert.Contains(Facts, f => f.Subject.Name == "Charles Lindbergh");
        Assert.Contains(Facts, f => f.Subject.Name == "Leonardo da Vinci");
    }

    [Fact]
    public void Read_AcceptsEveryClassAndItsSynonymsForWhatAPersonWas()
    {
        var leonardo = Single(Facts, "Leonardo da Vinci", Relations.KnownAs);
        Assert.Equal("old master", leonardo.Object);
        Assert.Contains("sculptor", leonardo.Answers);
        Assert.Contains("architect", leonardo.Answers);
        Assert.Contains("playwright", Single(Facts, "Edward Albee", Relations.KnownAs).Answers);
    }

    [Fact]
    public void Read_TakesBornOnlyAndDiedOnlyDates()
    {
        Assert.Equal("1934", Single(Facts, "Henry Louis Aaron", Relations.BornIn).Object);           // (born in 1934)
        Assert.Equal("1928", Single(Facts, "Edward Albee", Relations.BornIn).Object);         // (1928-)
        Assert.Equal("1742", Single(Facts, "Nathan Bailey", Relations.DiedIn).Object);        // (died in 1742)
        Assert.DoesNotContain(Facts, f => f.Subject.Name is "Henry Louis Aaron" or "Edward Albee" && f.Relation == Relations.DiedIn);
        Assert.DoesNotContain(Facts, f => f.Subject.Name == "Nathan Bailey" && f.Relation == Relations.BornIn);
    }

    [Fact]
    public void Read_LeavesOutBcDatesSharedNamesAndPlaces()
    {
        Assert.DoesNotContain(Facts, f => f.Subject.Name.Contains("Aristotle", StringComparison.Ordinal)); // (384-322 BC)
        Assert.DoesNotContain(Facts, f => f.Subject.Name.Contains("Bush", StringComparison.Ordinal));      // two George Bushes
        Assert.DoesNotContain(Facts, f => f.Subject.Name is "Cairo" or "Lima");                            // not people
        Assert.Equal(11, Facts.Select(f => f.Subject.Id).Distinct().Count());
    }

    [Fact]
    public void Read_MalformedLine_NamesTheFileAndLine()
    {
        using var temp = new TempDirectory();
        var lines = File.ReadAllLines(KnowledgeFixtures.WordNetNouns);
        int mozart = Array.FindIndex(lines, l => l.Contains("Wolfgang_Amadeus_Mozart", StringComparison.Ordinal));
        lines[mozart] = lines[mozart].Replace(" 02 Mozart", " zz Mozart", StringComparison.Ordinal);
        string path = temp.File("data.noun");
        File.WriteAllLines(path, lines);
        var error = Assert.Throws<InvalidDataException>(() => WordNetPeople.Read(path));
        Assert.Equal($"{path}:{mozart + 1}: expected 'offset lex_filenum ss_type w_cnt' at the start of the synset", error.Message);
    }

    [Fact]
    public void Read_LineWithoutGloss_NamesTheFileAndLine()
    {
        using var temp = new TempDirectory();
        string path = temp.File("data.noun");
        File.WriteAllLines(path, ["  1 licence", "00001740 03 n 01 entity 0 000"]);
        var error = Assert.Throws<InvalidDataException>(() => WordNetPeople.Read(path));
        Assert.Equal($"{path}:2: expected a synset line with ' | ' before its gloss", error.Message);
    }

    [Fact]
    public void Read_InstanceOfAMissingClass_NamesTheFileAndLine()
    {
        using var temp = new TempDirectory();
        var lines = File.ReadAllLines(KnowledgeFixtures.WordNetNouns).Where(l => !l.StartsWith("09966711", StringComparison.Ordinal)).ToArray(); // composer
        string path = temp.File("data.noun");
        File.WriteAllLines(path, lines);
        var error = Assert.Throws<InvalidDataException>(() => WordNetPeople.Read(path));
        Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(path)}:\d+: instance of synset 09966711, which the file lacks$", error.Message);
    }
}
