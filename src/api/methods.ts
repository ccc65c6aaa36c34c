import type { DescMessage, DescMethod, Message, MessageShape } from '@bufbuild/protobuf';
import { DeveloperConnect } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { Locations } from '../gen/google/cloud/location/locations_pb.js';
import { Operations } from '../gen/google/longrunning/operations_pb.js';
import type { ConnectionsApi } from './connections.js';
import type { CallContext } from './context.js';
import { ApiError, Code } from './errors.js';
import type { LocationsApi } from './locations.js';
import type { OperationsApi } from './operations.js';

type Implementation = (request: Message, context: CallContext) => Promise<Message>;

/** The implemented methods by full name (`google.longrunning.Operations.GetOperation`); both transports dispatch through it. */
export class MethodTable {
  private readonly implementations = new Map<string, Implementation>();

  constructor(apis: { operations: OperationsApi; locations: LocationsApi; connections: ConnectionsApi }) {
    const { operations, locations, connections } = apis;
    this.add(Operations.method.getOperation, (r) => operations.getOperation(r));
    this.add(Operations.method.listOperations, (r) => operations.listOperations(r));
    this.add(Operations.method.cancelOperation, (r) => operations.cancelOperation(r));
    this.add(Operations.method.deleteOperation, (r) => operations.deleteOperation(r));
    this.add(Operations.method.waitOperation, (r, c) => operations.waitOperation(r, c));
    this.add(Locations.method.getLocation, (r) => locations.getLocation(r));
    this.add(Locations.method.listLocations, (r) => locations.listLocations(r));
    this.add(DeveloperConnect.method.createConnection, (r) => connections.createConnection(r));
    this.add(DeveloperConnect.method.getConnection, (r) => connections.getConnection(r));
    this.add(DeveloperConnect.method.listConnections, (r) => connections.listConnections(r));
    this.add(DeveloperConnect.method.deleteConnection, (r) => connections.deleteConnection(r));
  }

  /** Runs a method; one not built yet answers UNIMPLEMENTED with its name. */
  call(method: DescMethod, request: Message, context: CallContext): Promise<Message> {
    const implementation = this.implementations.get(method.parent.typeName + '.' + method.name);
    if (!implementation) {
      return Promise.reject(
        new ApiError(
          Code.UNIMPLEMENTED,
          `Method ${method.parent.typeName}.${method.name} is not implemented by devconnect-emulator yet.`,
        ),
      );
    }
    return implementation(request, context);
  }

  private add<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    implementation: (request: MessageShape<I>, context: CallContext) => Promise<MessageShape<O>>,
  ): void {
    // The transports decode every request with `method.input`, so the request has this shape.
    this.implementations.set(method.parent.typeName + '.' + method.name, (request, context) =>
      implementation(request as MessageShape<I>, context),
    );
  }
}
