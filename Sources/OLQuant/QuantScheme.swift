// Module OLQuant: tensor-level fake quantisation (being written).
