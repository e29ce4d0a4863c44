{
 "milo_fast_signature": 1,
 "algorithm": "Ed25519",
 "public_key_sha256": "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c",
 "file_size": 1042,
 "file_sha256": "e7d997af9261865bd4640e71726f4c4b41bbcafdd0ff8f682073c55530827087",
 "signature": "f2aRC3ZOPWAxWs/h0PetUReiMYtcRuy2+xNAW4jFq3NKFJ1aSC85HK86EhHGKSme/XLrV9RbJ7hR++9gyLpNDw=="
}
