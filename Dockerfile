# FlowService: one image for every role (FlowService__Role = all | api | worker), plus a CUDA worker image.
#   docker build -t flowservice .
#   docker run -p 8080:8080 -v flowservice-data:/data flowservice        # embedded mode: SQLite + data folder
#   docker build --target gpu-worker -t flowservice-gpu .                # the GPU worker (k8s/gpu, docs/GPU.md)
# Build stage: the .NET SDK restores and publishes the API (which carries the engine and training code).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Project files first, so the restore layer is reused while only sources change.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/FlowService.Model/FlowService.Model.csproj src/FlowService.Model/
COPY src/FlowService.Training/FlowService.Training.csproj src/FlowService.Training/
COPY src/FlowService.Api/FlowService.Api.csproj src/FlowService.Api/
RUN dotnet restore src/FlowService.Api/FlowService.Api.csproj
COPY src/ src/
RUN dotnet publish src/FlowService.Api/FlowService.Api.csproj -c Release --no-restore -o /app /p:UseAppHost=false

# GPU worker stage: the same publish on NVIDIA's CUDA runtime image (cuBLAS and cuBLASLt) plus NVRTC, which the
# CUDA backend loads at run time (docs/GPU.md); libcuda.so.1 comes from the node's driver through the NVIDIA container
# toolkit and is never in the image. The .NET runtime is copied from Microsoft's image (same publish, same runtime).
# Listed before the CPU stage so that a plain `docker build` still builds the CPU image.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS dotnet-runtime
FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04 AS gpu-worker
RUN apt-get update \
    && apt-get install -y --no-install-recommends cuda-nvrtc-13-0 libopenblas0 libicu74 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1654 --user-group --no-create-home app
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
WORKDIR /app
COPY --from=build /app ./
RUN mkdir -p /data && chown app:app /data
USER 1654
# "auto": the GPU when the CUDA backend can run flows there, else the CPU with a warning in the log (docs/GPU.md).
ENV ASPNETCORE_HTTP_PORTS=8080 \
    ASPNETCORE_ENVIRONMENT=Production \
    FlowService__DataPath=/data \
    FlowService__Role=worker \
    FlowService__Compute__Device=auto \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    DOTNET_gcServer=0
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["dotnet", "FlowService.Api.dll"]

# Runtime stage: ASP.NET runtime, OpenBLAS for the optional sgemm path, curl for the health check.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libopenblas0 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# The image's unprivileged "app" user (APP_UID) owns the data folder; nothing runs as root.
RUN mkdir -p /data && chown "$APP_UID" /data
USER $APP_UID
ENV ASPNETCORE_HTTP_PORTS=8080 \
    ASPNETCORE_ENVIRONMENT=Production \
    FlowService__DataPath=/data \
    FlowService__Role=all \
    DOTNET_gcServer=0
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["dotnet", "FlowService.Api.dll"]
