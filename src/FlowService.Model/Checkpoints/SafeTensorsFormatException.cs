namespace FlowService.Model.Checkpoints;

/// <summary>A file is not a valid float32 safetensors file; the message says what is wrong and where.</summary>
public sealed class SafeTensorsFormatException(string message) : Exception(message);
