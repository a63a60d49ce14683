/// The Swift generated from `openapi.yaml` by `CodegenPlugin` lives in the build directory, not here.
@_exported import GatewayRuntime
