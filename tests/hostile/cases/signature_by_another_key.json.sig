{
 "milo_fast_signature": 1,
 "algorithm": "Ed25519",
 "public_key_sha256": "24f6ed6acbfe1009c030d7ca567c33ca4830911498236b5561a6c82abec5de28",
 "file_size": 1042,
 "file_sha256": "e7d997af9261865bd4640e71726f4c4b41bbcafdd0ff8f682073c55530827087",
 "signature": "0fG2UopLTt7IUd6GncPUUwFL9528kclY0xgvw37sFJI14cd5V9GYEzFfnYQ5iMiqH3I3kVkrTk5oWiOmmjVBCQ=="
}
