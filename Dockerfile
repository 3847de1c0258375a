# FlowService: one image for every role (FlowService__Role = all | api | worker).
#   docker build -t flowservice .
#   docker run -p 8080:8080 -v flowservice-data:/data flowservice        # embedded mode: SQLite + data folder
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
