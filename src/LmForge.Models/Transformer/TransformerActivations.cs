using LmForge.Models.Transformer.Modules;
using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>
/// Everything a forward and backward pass of one (batch, sequence length) needs, allocated once when the plan is made
/// and reused every step: ids uploaded per step, each layer's saved activations, and the scratch every layer shares.
/// </summary>
internal sealed class TransformerActivations : IDisposable
{
    private readonly IBackend _backend;
    private readonly ActivationAllocator _allocate;
    private int[]? _documentPositions; // host staging for DocumentPositions, made on the first packed forward
    private readonly AttentionContext _unpacked;
    private AttentionContext? _packed;

    public TransformerActivations(IBackend backend, TransformerConfig config, IReadOnlyList<TransformerBlock> blocks, Norm? finalNorm,
        Norm? embeddingNorm, HeadTransform? headTransform, int batchSize, int tokenCount)
    {
        _backend = backend;
        _allocate = new ActivationAllocator(backend);
        BatchSize = batchSize;
        TokenCount = tokenCount;
        int b = batchSize, t = tokenCount, c = config.Width;
        try
        {
            Tokens = _allocate.Int32(b * t);
            Targets = _allocate.Int32(b * t);
            Positions = _allocate.Int32(b * t);
            var positions = new int[b * t];
            for (int i = 0; i < positions.Length; i++) positions[i] = i % t;
            backend.CopyFromHost(Positions, positions);
            _unpacked = new AttentionContext(Positions);
            if (config.TokenTypeCount > 0)
            {
                TokenTypes = _allocate.Int32(b * t);
                backend.CopyFromHost(TokenTypes, new int[b * t]);
            }
            if (embeddingNorm is not null)
            {
                EmbeddingSum = _allocate.Float(b, t, c);
                EmbeddingNormStatistics = embeddingNorm.PlanStatistics(_allocate, b, t);
            }

            Residuals = new Tensor[blocks.Count + 1];
            for (int i = 0; i < Residuals.Length; i++) Residuals[i] = _allocate.Float(b, t, c);
            Blocks = new TransformerBlock.Activations[blocks.Count];
            for (int i = 0; i < blocks.Count; i++) Blocks[i] = blocks[i].Plan(_allocate, b, t, c);
            if (finalNorm is not null)
            {
                FinalNorm = _allocate.Float(b, t, c);
                FinalNormStatistics = finalNorm.PlanStatistics(_allocate, b, t);
            }
            HeadTransform = headTransform?.Plan(_allocate, b, t, c);
            Logits = _allocate.Float(b, t, config.PaddedVocabSize);
            Losses = _allocate.Float(b, t);
            Predictions = _allocate.Int32(b * t);

            Scratch = TransformerScratch.Plan(_allocate, blocks[0], b, t, c);
        }
        catch
        {
            _allocate.Dispose();
            throw;
        }
    }

    public int BatchSize { get; }
    public int TokenCount { get; }

    public Tensor Tokens { get; }      // Int32 (B·T), uploaded each forward
    public Tensor Targets { get; }     // Int32 (B·T), −1 = ignored
    public Tensor Positions { get; }   // Int32 (B·T): t for every row of every sequence; never rewritten
    public Tensor? TokenTypes { get; }  // Int32 (B·T), with a token-type table only: each token's segment, 0 unless a forward gave types

    /// <summary>Whether <see cref="TokenTypes"/> holds a forward's types rather than zeros.</summary>
    public bool HasTokenTypes { get; private set; }

    /// <summary>Uploads the token types of the next forward (B·T, checked), or zeros when none are given and the last forward had some.</summary>
    public void UseTokenTypes(ReadOnlySpan<int> tokenTypes)
    {
        if (TokenTypes is null) return;
        if (!tokenTypes.IsEmpty) _backend.CopyFromHost(TokenTypes, tokenTypes);
        else if (HasTokenTypes) _backend.CopyFromHost(TokenTypes, new int[TokenTypes.Length]); // back to type 0 (rare: a switch between kinds of batch)
        HasTokenTypes = !tokenTypes.IsEmpty;
    }
    public Tensor? EmbeddingSum { get; } // (B,T,C): token + position + type embeddings before the embedding norm, when there is one
    public NormStatistics? EmbeddingNormStatistics { get; }
    public Tensor? DocumentPositions { get; private set; } // Int32 (B·T): t − its document's start, packed rows only
    public Tensor? DocumentStarts { get; private set; }    // Int32 (B,T): each token's document start, attention's firstKey

    /// <summary>Whether the last forward ran packed documents; its backward must use the same positions and first keys.</summary>
    public bool Packed { get; private set; }

    /// <summary>
    /// What attention reads in the last forward: <see cref="Positions"/> and no first key, or, with packed documents,
    /// positions t − start and each token's document start as its first visible key.
    /// </summary>
    public AttentionContext StepContext => Packed ? _packed! : _unpacked;

    public Tensor[] Residuals { get; } // L+1 × (B,T,C): [0] is the embedding, [i+1] the output of layer i
    public TransformerBlock.Activations[] Blocks { get; }
    public Tensor? FinalNorm { get; }  // (B,T,C), pre-norm models only
    public NormStatistics? FinalNormStatistics { get; }
    public HeadTransform.Activations? HeadTransform { get; } // the masked-LM head's transform, when there is one
    public Tensor Logits { get; }      // (B,T,Vp); the backward overwrites it with its gradient
    public Tensor Losses { get; }      // (B,T)
    public Tensor Predictions { get; } // Int32 (B·T): each position's most likely token, on request
    public TransformerScratch Scratch { get; }

    /// <summary>The encoder/decoder stack's output: the final norm's output (pre-norm) or the last residual (post-norm).</summary>
    public Tensor Trunk => FinalNorm ?? Residuals[^1];

    /// <summary>What the output projection reads: the head transform's output, or the trunk's.</summary>
    public Tensor HeadInput => HeadTransform?.Output ?? Trunk;

    /// <summary>
    /// Sets what the next forward and its backward use: with no starts (empty), one sequence per row (the plan's
    /// positions, no first key); with documentStarts (B·T, already checked), positions t − start and first keys = the
    /// starts, uploaded. The tensors and host staging are made on the first packed forward and then reused.
    /// </summary>
    public void UseDocuments(ReadOnlySpan<int> documentStarts)
    {
        if (documentStarts.IsEmpty)
        {
            Packed = false;
            return;
        }
        if (_documentPositions is null)
        {
            DocumentPositions = _allocate.Int32(BatchSize * TokenCount);
            DocumentStarts = _allocate.Int32(BatchSize, TokenCount);
            _documentPositions = new int[BatchSize * TokenCount];
            _packed = new AttentionContext(DocumentPositions, DocumentStarts);
        }
        for (int i = 0; i < _documentPositions.Length; i++) _documentPositions[i] = (i % TokenCount) - documentStarts[i];
        _backend.CopyFromHost(DocumentPositions!, _documentPositions);
        _backend.CopyFromHost(DocumentStarts!, documentStarts);
        Packed = true;
    }

    public void Dispose() => _allocate.Dispose();
}
