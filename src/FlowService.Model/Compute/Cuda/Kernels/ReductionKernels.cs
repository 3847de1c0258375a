namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// CUDA C for column sums (bias gradients): a deterministic two-pass reduction. Pass 1: blocks of
/// 32 columns x 8 row lanes (coalesced rows) sum one chunk of rows each and write one partial per
/// (chunk, column); pass 2: one thread per column adds the partials in chunk order. Fixed order, so
/// the result is the same on every run, at full memory bandwidth.
/// </summary>
internal static class ReductionKernels
{
    public const int ColumnTile = 32, RowLanes = 8, RowsPerChunk = 512;

    public const string Source = """
        extern "C" __global__ void column_partial_sums(const float* values, long long rows, int cols, long long rowsPerChunk, float* partial)
        {
            __shared__ float lanes[8][33];
            int col = blockIdx.x * 32 + threadIdx.x;
            long long first = blockIdx.y * rowsPerChunk;
            long long last = min(rows, first + rowsPerChunk);
            float sum = 0.f;
            if (col < cols)
                for (long long r = first + threadIdx.y; r < last; r += 8)
                    sum += values[r * cols + col];
            lanes[threadIdx.y][threadIdx.x] = sum;
            __syncthreads();
            if (threadIdx.y == 0 && col < cols)
            {
                float total = 0.f;
                for (int i = 0; i < 8; i++) total += lanes[i][threadIdx.x];
                partial[blockIdx.y * (long long)cols + col] = total;
            }
        }

        extern "C" __global__ void add_chunk_sums(const float* partial, int chunks, int cols, float* destination)
        {
            for (int col = blockIdx.x * blockDim.x + threadIdx.x; col < cols; col += gridDim.x * blockDim.x)
            {
                float sum = 0.f;
                for (int c = 0; c < chunks; c++) sum += partial[c * (long long)cols + col];
                destination[col] += sum;
            }
        }
        """;
}
