"""A client that is not ours: Python grpcio, which learns the API only through the
server's reflection service (no generated code, no .proto file). Submits the proof
described in a JSON file (hex fields), then polls its receipt until it settles.

Usage: python foreign_client.py HOST:PORT submission.json
Prints: "circuit <hex> N=<slots>", "receipt <hex> <status>", "settled <tx hex> gas <n>".
"""

import json
import sys
import time

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

SERVICE = "zkmeter.v1.VerifierService"


def main(target, submission_file):
    channel = grpc.insecure_channel(target)
    pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName(SERVICE)

    def rpc(name):
        method = service.methods_by_name[name]
        request, response = GetMessageClass(method.input_type), GetMessageClass(method.output_type)
        call = channel.unary_unary(
            f"/{SERVICE}/{name}",
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )
        return request, call

    request, get_circuit = rpc("GetCircuit")
    circuit = get_circuit(request(), timeout=10)
    print(f"circuit {circuit.circuit_id.hex()} N={circuit.slots}")

    with open(submission_file) as f:
        s = json.load(f)
    request, submit = rpc("SubmitProof")
    req = request()
    req.circuit_id = circuit.circuit_id
    req.proof = bytes.fromhex(s["proof"])
    req.meter_signature = bytes.fromhex(s["meter_signature"])
    st = req.statement
    st.job_id = s["job_id"]
    st.meter = bytes.fromhex(s["meter"])
    for name in ("prev", "next"):
        state = getattr(st, name)
        state.head = bytes.fromhex(s[name]["head"])
        state.seq = s[name]["seq"]
        state.end_ms = s[name]["end_ms"]
    st.record_count = s["record_count"]
    st.totals.extend(s["totals"])
    receipt = submit(req, timeout=30).receipt
    status = pool.FindEnumTypeByName("zkmeter.v1.ReceiptStatus")
    print(f"receipt {receipt.id.hex()} {status.values_by_number[receipt.status].name}")

    request, get_receipt = rpc("GetReceipt")
    for _ in range(200):
        receipt = get_receipt(request(id=receipt.id), timeout=10).receipt
        name = status.values_by_number[receipt.status].name
        if name == "RECEIPT_STATUS_SETTLED":
            print(f"settled {receipt.tx_hash.hex()} gas {receipt.gas_used}")
            return 0
        if name == "RECEIPT_STATUS_REJECTED":
            print(f"rejected: {receipt.reason}")
            return 1
        time.sleep(0.05)
    print("not settled in 10 s")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
