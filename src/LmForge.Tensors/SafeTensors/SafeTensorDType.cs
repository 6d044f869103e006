namespace LmForge.Tensors.SafeTensors;

/// <summary>The element types the safetensors format names in its header ("F32", "BF16", ...).</summary>
public enum SafeTensorDType
{
    BOOL,
    U8,
    I8,
    F8_E4M3,
    F8_E5M2,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    I64,
    U64,
    F64,
}

public static class SafeTensorDTypeExtensions
{
    /// <summary>Bytes per element.</summary>
    public static int SizeInBytes(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.BOOL or SafeTensorDType.U8 or SafeTensorDType.I8
            or SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2 => 1,
        SafeTensorDType.I16 or SafeTensorDType.U16 or SafeTensorDType.F16 or SafeTensorDType.BF16 => 2,
        SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.F32 => 4,
        SafeTensorDType.I64 or SafeTensorDType.U64 or SafeTensorDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    /// <summary>Parses the header spelling ("F32"); exact and case-sensitive, as the format is.</summary>
    public static bool TryParse(string text, out SafeTensorDType dtype)
    {
        // Enum.TryParse would also accept numbers and other casings; the format accepts only these names.
        foreach (SafeTensorDType candidate in Enum.GetValues<SafeTensorDType>())
        {
            if (string.Equals(candidate.ToString(), text, StringComparison.Ordinal))
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }
}
